"""Organisations and the contacts invitations go to, kept by the coordinators in the back-office.

Contact writes take turns (the schema lock: PostgreSQL's advisory lock, SQLite's write lock, also taken by seeding),
so the check that (organisation, target group, e-mail) is new holds when the row is written: the table's unique
constraint cannot see it when the target group is NULL (every target group), as NULLs differ in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from activities_impl.store.engine import StoreBase, StoreError, _schema_lock
from domain.contacts import ContactChanges, ImportMode, contact_changes, key_of
from domain.contacts_import import ImportedContact
from domain.email_address import InvalidEmail, parse_email
from domain.tables import (
    Contact,
    Organisation,
)


@dataclass(frozen=True)
class ListedContact:
    id: int
    organisation_id: str
    organisation_name: str
    target_group: str | None
    name: str
    email: str


class References(StoreBase):
    def organisations(self) -> list[Organisation]:
        with self.session() as s:
            return list(s.exec(select(Organisation).order_by(col(Organisation.kind).desc(), col(Organisation.name))))

    def organisation_ids(self) -> set[str]:
        with self.session() as s:
            return set(s.exec(select(Organisation.id)))

    def contacts(self, organisation_ids: Iterable[str], target_groups: Iterable[str]) -> list[Contact]:
        orgs, groups = list(organisation_ids), list(target_groups)
        with self.session() as s:
            rows = s.exec(select(Contact).where(col(Contact.organisation_id).in_(orgs)).order_by(col(Contact.id)))
            return [c for c in rows if c.target_group is None or c.target_group in groups]

    # -- keeping the contacts ----------------------------------------------
    def contact_list(self, organisation_id: str | None = None) -> list[ListedContact]:
        """Every contact (or one organisation's) with its organisation's name, by organisation (as `organisations`
        orders them), then every-target-group contacts first, then by target group and name."""
        with self.session() as s:
            query = select(Contact, Organisation).join(Organisation, col(Contact.organisation_id) == Organisation.id)
            if organisation_id is not None:
                query = query.where(col(Contact.organisation_id) == organisation_id)
            query = query.order_by(
                col(Organisation.kind).desc(),
                col(Organisation.name),
                col(Contact.target_group).is_not(None),
                col(Contact.target_group),
                col(Contact.name),
                col(Contact.id),
            )
            return [
                ListedContact(c.id or 0, c.organisation_id, o.name, c.target_group, c.name, c.email)
                for c, o in s.exec(query)
            ]

    def contact(self, contact_id: int) -> Contact | None:
        with self.session() as s:
            return s.get(Contact, contact_id)

    def add_contact(self, organisation_id: str, target_group: str | None, name: str, email: str) -> Contact:
        """A new contact; StoreError `unknown_organisation`, `invalid_email` or `duplicate_contact` otherwise."""
        with self.session() as s:
            _schema_lock(s.connection())
            _check(s, [organisation_id], [email])
            if _find(s, organisation_id, target_group, email) is not None:
                raise StoreError("the organisation has this contact for this target group", "duplicate_contact")
            contact = Contact(organisation_id=organisation_id, target_group=target_group, name=name, email=email)
            s.add(contact)
            s.flush()
            s.refresh(contact)
            return contact

    def update_contact(
        self, contact_id: int, organisation_id: str, target_group: str | None, name: str, email: str
    ) -> Contact:
        """The contact as changed; StoreError `unknown_contact`, `unknown_organisation`,
        `invalid_email` or `duplicate_contact` (another contact has this organisation, target group and e-mail)."""
        with self.session() as s:
            _schema_lock(s.connection())
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise StoreError(f"no contact {contact_id}", "unknown_contact")
            _check(s, [organisation_id], [email])
            other = _find(s, organisation_id, target_group, email)
            if other is not None and other.id != contact_id:
                raise StoreError("the organisation has this contact for this target group", "duplicate_contact")
            contact.organisation_id, contact.target_group = organisation_id, target_group
            contact.name, contact.email = name, email
            s.add(contact)
            s.flush()
            return contact

    def remove_contact(self, contact_id: int) -> Contact:
        """The contact removed; StoreError `unknown_contact` when there is none (e.g. removed already)."""
        with self.session() as s:
            _schema_lock(s.connection())
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise StoreError(f"no contact {contact_id}", "unknown_contact")
            s.delete(contact)
            return contact

    def preview_contacts_import(self, rows: Sequence[ImportedContact], mode: ImportMode) -> ContactChanges:
        """What `import_contacts` would change now (nothing is written)."""
        with self.session() as s:
            return contact_changes(_contacts_of(s, {r.organisation_id for r in rows}), rows, mode)

    def import_contacts(
        self, rows: Sequence[ImportedContact], mode: ImportMode, expected: str | None = None
    ) -> ContactChanges:
        """Imports the rows in one transaction (every row, or nothing when one cannot be: StoreError
        `unknown_organisation`, `invalid_email`, `duplicate_contact`); what it changed. A contact whose key is in
        place keeps its row (and id), given the file's name.

        `expected`: the `before` of a preview; when the contacts of the rows' organisations have changed since
        (someone edited them, or this import was confirmed already), nothing is written: StoreError
        `contacts_changed`. So a confirmation does exactly what its preview showed."""
        keys = [key_of(r) for r in rows]
        if len(set(keys)) != len(keys):
            raise StoreError("the same contact twice in one import", "duplicate_contact")
        with self.session() as s:
            _schema_lock(s.connection())
            _check(s, {r.organisation_id for r in rows}, [r.email for r in rows])
            existing = _contacts_of(s, {r.organisation_id for r in rows})
            changes = contact_changes(existing, rows, mode)
            if expected is not None and changes.before != expected:
                raise StoreError("the contacts changed since the preview", "contacts_changed")
            stored = {key_of(c): c for c in existing}
            for renamed in changes.renamed:
                contact = stored[key_of(renamed.contact)]
                contact.name = renamed.contact.name
                s.add(contact)
            for gone in changes.removed:
                s.delete(gone)
            s.flush()  # removed before added: replacing never meets its own old rows
            for row in changes.added:
                s.add(
                    Contact(
                        organisation_id=row.organisation_id,
                        target_group=row.target_group,
                        name=row.name,
                        email=row.email,
                    )
                )
            return changes


def _contacts_of(s: Session, organisation_ids: Iterable[str]) -> list[Contact]:
    orgs = sorted(set(organisation_ids))
    return list(s.exec(select(Contact).where(col(Contact.organisation_id).in_(orgs)).order_by(col(Contact.id))))


def _find(s: Session, organisation_id: str, target_group: str | None, email: str) -> Contact | None:
    group = col(Contact.target_group).is_(None) if target_group is None else col(Contact.target_group) == target_group
    query = select(Contact).where(col(Contact.organisation_id) == organisation_id, col(Contact.email) == email, group)
    return s.exec(query).first()


def _check(s: Session, organisation_ids: Iterable[str], emails: Iterable[str]) -> None:
    wanted = set(organisation_ids)
    known = set(s.exec(select(Organisation.id).where(col(Organisation.id).in_(sorted(wanted)))))
    if wanted - known:
        raise StoreError(f"{len(wanted - known)} unknown organisation(s)", "unknown_organisation")
    for email in emails:
        try:
            valid = parse_email(email) == email
        except InvalidEmail:
            valid = False
        if not valid:
            raise StoreError("not a normalised e-mail address", "invalid_email")
