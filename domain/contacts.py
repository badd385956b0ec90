"""The organisations' invitation contacts as coordinators keep them: one contact checked as typed in a form, and what
an imported list changes. Pure: the store applies it (`References.import_contacts`), the back-office shows it.

A contact is one person (name, e-mail) of one organisation who gets the invitations and deadline reminders of
activities for one target group, or for every target group (`target_group` None). The same address may be a contact
of an organisation for several target groups; (organisation, target group, e-mail) is unique.

An import either adds (new contacts added, a known contact given the name in the file, nobody removed) or replaces
(besides that, the contacts of every organisation in the file that the file does not list are removed; the other
organisations' contacts stay as they are).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from domain.contacts_import import MAX_CELL, ImportedContact
from domain.control_characters import control_character
from domain.email_address import MAX_EMAIL_LENGTH, InvalidEmail, parse_email

MAX_NAME_LENGTH = MAX_CELL  # the same limit as a cell of an imported list

ContactKey = tuple[str, str | None, str]  # organisation id, target group (None: every one), e-mail


class ImportMode(StrEnum):
    ADD = "add"  # "lägg till"
    REPLACE = "replace"  # "ersätt kontakterna för organisationerna i filen"


class KnownContact(Protocol):
    """A stored contact, as far as an import needs it (`domain.tables.Contact` is one)."""

    @property
    def id(self) -> int | None: ...
    @property
    def organisation_id(self) -> str: ...
    @property
    def target_group(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...


def key_of(contact: KnownContact | ImportedContact) -> ContactKey:
    return contact.organisation_id, contact.target_group, contact.email


@dataclass(frozen=True)
class Renamed:
    contact: ImportedContact
    previous_name: str


@dataclass
class ContactChanges:
    """What an import does: rows added, rows that give a known contact a new name, rows already in place, and (when
    replacing) the stored contacts removed."""

    added: list[ImportedContact] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    unchanged: list[ImportedContact] = field(default_factory=list)
    removed: list[KnownContact] = field(default_factory=list)
    before: str = ""  # `fingerprint` of the stored contacts of the rows' organisations that this was computed from

    @property
    def organisation_ids(self) -> set[str]:
        rows = [*self.added, *(r.contact for r in self.renamed), *self.unchanged]
        return {c.organisation_id for c in rows} | {c.organisation_id for c in self.removed}

    @property
    def changes_anything(self) -> bool:
        return bool(self.added or self.renamed or self.removed)


def contact_changes(
    existing: Iterable[KnownContact], rows: Sequence[ImportedContact], mode: ImportMode
) -> ContactChanges:
    """What importing `rows` changes, given the stored contacts (of the rows' organisations, or more: the others are
    left alone). The rows' keys are unique (`parse_contacts` refuses a repeated one)."""
    organisations = {r.organisation_id for r in rows}
    stored = list(existing)
    by_key = {key_of(c): c for c in stored}
    changes = ContactChanges(before=fingerprint(c for c in stored if c.organisation_id in organisations))
    for row in rows:
        known = by_key.get(key_of(row))
        if known is None:
            changes.added.append(row)
        elif known.name != row.name:
            changes.renamed.append(Renamed(row, known.name))
        else:
            changes.unchanged.append(row)
    if mode is ImportMode.REPLACE:
        listed = {key_of(r) for r in rows}
        changes.removed = [c for c in stored if c.organisation_id in organisations and key_of(c) not in listed]
    return changes


def fingerprint(contacts: Iterable[KnownContact]) -> str:
    """A digest of stored contacts (ids, keys and names, in any order): an import confirmed after a preview checks that
    the contacts it would change are still those the preview was computed from."""
    rows = sorted((c.id or 0, c.organisation_id, c.target_group or "", c.name, c.email) for c in contacts)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


# -- one contact, as typed in the back-office's form -----------------------------------------------------------------
@dataclass(frozen=True)
class ContactFields:
    organisation_id: str
    target_group: str | None
    name: str
    email: str


NO_ORGANISATION = "Välj en organisation."
UNKNOWN_ORGANISATION = "Organisationen finns inte. Välj en i listan."
UNKNOWN_TARGET_GROUP = "Målgruppen finns inte. Välj en i listan, eller alla målgrupper."
NO_NAME = "Skriv kontaktpersonens namn."
NAME_TOO_LONG = f"Namnet får vara högst {MAX_NAME_LENGTH} tecken."
NO_EMAIL = "Skriv kontaktpersonens e-postadress."
EMAIL_TOO_LONG = f"E-postadressen får vara högst {MAX_EMAIL_LENGTH} tecken."
BAD_EMAIL = "Skriv en giltig e-postadress, till exempel fornamn.efternamn@kommun.se."
CONTROL = "Fältet innehåller ett otillåtet tecken (till exempel ett styrtecken). Skriv det med vanliga tecken."
DUPLICATE = "Organisationen har redan en kontakt med den här e-postadressen för den här målgruppen."
LONGEST_CHOICE = 100  # an organisation id or a target group: anything longer is not one


def check_contact(
    form: Mapping[str, str], organisation_ids: Iterable[str], target_groups: Iterable[str]
) -> tuple[ContactFields | None, dict[str, str]]:
    """The contact in the form's fields `organisation`, `target_group` (empty: every target group), `name` and
    `email`, or the errors by field (Swedish). Each field's length is checked before anything else is done with it."""
    errors: dict[str, str] = {}
    organisation = form.get("organisation", "").strip()
    target_group = form.get("target_group", "").strip()
    name = form.get("name", "").strip()
    email = form.get("email", "").strip()

    if not organisation:
        errors["organisation"] = NO_ORGANISATION
    elif len(organisation) > LONGEST_CHOICE or organisation not in set(organisation_ids):
        errors["organisation"] = UNKNOWN_ORGANISATION
    if target_group and (len(target_group) > LONGEST_CHOICE or target_group not in set(target_groups)):
        errors["target_group"] = UNKNOWN_TARGET_GROUP

    if len(name) > MAX_NAME_LENGTH:
        errors["name"] = NAME_TOO_LONG
    elif control_character(name):
        errors["name"] = CONTROL
    elif not name:
        errors["name"] = NO_NAME

    parsed = ""
    if len(email) > MAX_EMAIL_LENGTH:
        errors["email"] = EMAIL_TOO_LONG
    elif control_character(email):
        errors["email"] = CONTROL
    elif not email:
        errors["email"] = NO_EMAIL
    else:
        try:
            parsed = parse_email(email)
        except InvalidEmail:
            errors["email"] = BAD_EMAIL
    if errors:
        return None, errors
    return ContactFields(organisation, target_group or None, name, parsed), {}
