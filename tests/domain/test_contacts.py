"""One contact checked as typed in the back-office's form; what an imported list changes (add or replace)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contacts import (
    BAD_EMAIL,
    CONTROL,
    EMAIL_TOO_LONG,
    NAME_TOO_LONG,
    NO_EMAIL,
    NO_NAME,
    NO_ORGANISATION,
    UNKNOWN_ORGANISATION,
    UNKNOWN_TARGET_GROUP,
    ContactFields,
    ImportMode,
    check_contact,
    contact_changes,
    fingerprint,
    key_of,
)
from domain.contacts_import import ImportedContact

ORGS = {"sundsvall", "ostersund"}
GROUPS = ["lärare", "rektor"]
GOOD = {
    "organisation": "sundsvall",
    "target_group": "",
    "name": " Katarina Engström ",
    "email": " K.Engstrom@Sundsvall.se ",
}


def test_a_good_contact_is_normalised():
    fields, errors = check_contact(GOOD, ORGS, GROUPS)
    assert errors == {}
    assert fields == ContactFields("sundsvall", None, "Katarina Engström", "k.engstrom@sundsvall.se")
    fields, _ = check_contact({**GOOD, "target_group": "rektor"}, ORGS, GROUPS)
    assert fields is not None and fields.target_group == "rektor"


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"organisation": ""}, "organisation", NO_ORGANISATION),
        ({"organisation": "stockholm"}, "organisation", UNKNOWN_ORGANISATION),
        ({"organisation": "s" * 10_000}, "organisation", UNKNOWN_ORGANISATION),
        ({"target_group": "astronaut"}, "target_group", UNKNOWN_TARGET_GROUP),
        ({"name": "   "}, "name", NO_NAME),
        ({"name": "x" * 201}, "name", NAME_TOO_LONG),
        ({"name": "Anna\x00"}, "name", CONTROL),
        ({"name": "Anna\u2028Berg"}, "name", CONTROL),
        ({"email": ""}, "email", NO_EMAIL),
        ({"email": "not an address"}, "email", BAD_EMAIL),
        ({"email": '"Anna" <anna@skola.se>'}, "email", BAD_EMAIL),
        ({"email": "a@" + "b" * 300 + ".se"}, "email", EMAIL_TOO_LONG),
        ({"email": "anna@skola.se\r\nBcc: x@y.se"}, "email", CONTROL),
    ],
)
def test_each_problem_is_named_at_its_field(changes, field, text):
    fields, errors = check_contact({**GOOD, **changes}, ORGS, GROUPS)
    assert fields is None and errors == {field: text}


def test_missing_fields_are_errors_not_exceptions():
    fields, errors = check_contact({}, ORGS, GROUPS)
    assert fields is None and set(errors) == {"organisation", "name", "email"}


@dataclass
class Stored:
    id: int
    organisation_id: str
    target_group: str | None
    name: str
    email: str


def row(n: int, org: str, group: str | None, name: str, email: str) -> ImportedContact:
    return ImportedContact(row=n, organisation_id=org, target_group=group, name=name, email=email)


STORED = [
    Stored(1, "sundsvall", None, "Katarina Engström", "katarina@sundsvall.se"),
    Stored(2, "sundsvall", "rektor", "Johanna Eriksson", "johanna@sundsvall.se"),
    Stored(3, "ostersund", None, "Maria Lindqvist", "maria@ostersund.se"),
]
ROWS = [
    row(2, "sundsvall", None, "Katarina Engström", "katarina@sundsvall.se"),  # unchanged
    row(3, "sundsvall", "lärare", "Fredrik Sundqvist", "fredrik@sundsvall.se"),  # new
    row(4, "sundsvall", "rektor", "Johanna Eriksson Berg", "johanna@sundsvall.se"),  # new name
]


def test_adding_keeps_every_stored_contact():
    changes = contact_changes(STORED, ROWS, ImportMode.ADD)
    assert [r.row for r in changes.added] == [3]
    assert [(r.contact.row, r.previous_name) for r in changes.renamed] == [(4, "Johanna Eriksson")]
    assert [r.row for r in changes.unchanged] == [2]
    assert changes.removed == [] and changes.changes_anything


def test_replacing_removes_the_unlisted_contacts_of_the_organisations_in_the_file_only():
    changes = contact_changes(STORED, ROWS[:2], ImportMode.REPLACE)
    assert [c.id for c in changes.removed] == [2]  # Sundsvall's rektor contact; Östersund's stays
    assert changes.organisation_ids == {"sundsvall"}


def test_the_same_address_for_another_target_group_is_another_contact():
    changes = contact_changes(STORED, [row(2, "sundsvall", "lärare", "K E", "katarina@sundsvall.se")], ImportMode.ADD)
    assert len(changes.added) == 1


keys = st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([None, "lärare", "rektor"]), st.sampled_from("xyz"))


@given(
    stored=st.dictionaries(keys, st.sampled_from(["N1", "N2"]), max_size=12),
    rows=st.dictionaries(keys, st.sampled_from(["N1", "N2"]), max_size=12),
    mode=st.sampled_from(list(ImportMode)),
)
def test_after_an_import_the_contacts_are_as_the_mode_says(stored, rows, mode):
    existing = [Stored(i, o, g, n, f"{e}@{o}.se") for i, ((o, g, e), n) in enumerate(stored.items())]
    imported = [row(i, o, g, n, f"{e}@{o}.se") for i, ((o, g, e), n) in enumerate(rows.items())]
    changes = contact_changes(existing, imported, mode)
    after = {key_of(c): c.name for c in existing}
    for c in changes.removed:
        del after[key_of(c)]
    for c in [*changes.added, *(r.contact for r in changes.renamed)]:
        after[key_of(c)] = c.name
    assert len(changes.added) + len(changes.renamed) + len(changes.unchanged) == len(imported)
    for c in imported:
        assert after[key_of(c)] == c.name
    in_file = {c.organisation_id for c in imported}
    for c in existing:
        listed = key_of(c) in {key_of(r) for r in imported}
        kept = key_of(c) in after
        assert kept == (listed or mode is ImportMode.ADD or c.organisation_id not in in_file)


def test_the_fingerprint_of_stored_contacts_ignores_their_order_and_sees_every_change():
    assert fingerprint(STORED) == fingerprint(reversed(STORED))
    renamed = [Stored(1, "sundsvall", None, "Katarina E", "katarina@sundsvall.se"), *STORED[1:]]
    assert len({fingerprint(STORED), fingerprint(STORED[1:]), fingerprint(renamed)}) == 3
    assert contact_changes(STORED, ROWS, ImportMode.ADD).before == fingerprint(STORED[:2])  # the rows' organisations
