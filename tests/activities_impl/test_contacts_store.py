"""The store's side of the invitation contacts: add, change, remove, list with organisation names, import in one
transaction; seeding does not bring back a contact the coordinators removed. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from activities_impl.store import StoreError
from domain.contacts import ImportMode
from domain.contacts_import import ImportedContact
from domain.reference import default_reference


def row(n: int, org: str, group: str | None, name: str, email: str) -> ImportedContact:
    return ImportedContact(row=n, organisation_id=org, target_group=group, name=name, email=email)


def keys(store, org: str) -> set[tuple[str | None, str, str]]:
    return {(c.target_group, c.name, c.email) for c in store.contact_list(org)}


def test_the_seeded_contacts_are_listed_with_their_organisations(store):
    listed = store.contact_list()
    assert len(listed) == len(default_reference().contacts)
    sundsvall = store.contact_list("sundsvall")
    assert {c.organisation_name for c in sundsvall} == {"Sundsvalls kommun"}
    assert sundsvall[0].target_group is None  # the every-target-group contact first
    assert [c.target_group for c in sundsvall[1:]] == sorted(c.target_group for c in sundsvall[1:])


def test_add_change_and_remove_a_contact(store):
    added = store.add_contact("berg", "rektor", "Lars Holm", "lars.holm@berg.example.se")
    assert ("rektor", "Lars Holm", "lars.holm@berg.example.se") in keys(store, "berg")
    assert [c.id for c in store.contacts(["berg"], ["rektor"]) if c.target_group == "rektor"] == [added.id]

    changed = store.update_contact(added.id, "bracke", None, "Lars Holm", "lars.holm@bracke.example.se")
    assert changed.id == added.id and changed.organisation_id == "bracke"
    assert ("rektor", "Lars Holm", "lars.holm@berg.example.se") not in keys(store, "berg")
    assert (None, "Lars Holm", "lars.holm@bracke.example.se") in keys(store, "bracke")

    removed = store.remove_contact(added.id)
    assert removed.email == "lars.holm@bracke.example.se" and store.contact(added.id) is None
    with pytest.raises(StoreError) as error:
        store.remove_contact(added.id)
    assert error.value.code == "unknown_contact"


def test_a_contact_is_unique_per_organisation_target_group_and_address_even_for_every_target_group(store):
    [seeded] = [c for c in store.contact_list("berg") if c.target_group is None]
    with pytest.raises(StoreError) as error:  # the unique constraint cannot see this one (NULL): the store checks it
        store.add_contact("berg", None, "Someone", seeded.email)
    assert error.value.code == "duplicate_contact"
    other = store.add_contact("berg", "lärare", "Someone", seeded.email)  # the same person for one more group: fine
    with pytest.raises(StoreError) as error:
        store.update_contact(other.id, "berg", None, "Someone", seeded.email)
    assert error.value.code == "duplicate_contact"
    assert store.update_contact(other.id, "berg", "lärare", "Someone Else", seeded.email).name == "Someone Else"
    with pytest.raises(StoreError) as error:
        store.add_contact("stockholm", None, "Someone", "someone@stockholm.example.se")
    assert error.value.code == "unknown_organisation"
    with pytest.raises(StoreError) as error:
        store.add_contact("berg", None, "Someone", "Not@Normalised.se")
    assert error.value.code == "invalid_email"


def test_adding_an_import_keeps_the_others_and_renames_in_place(store):
    [katarina] = [c for c in store.contact_list("sundsvall") if c.target_group is None]
    before = len(store.contact_list())
    rows = [
        row(2, "sundsvall", None, "Katarina Engström-Lund", katarina.email),
        row(3, "berg", "lärare", "Nils Berg", "nils.berg@berg.example.se"),
    ]
    preview = store.preview_contacts_import(rows, ImportMode.ADD)
    assert len(store.contact_list()) == before  # a preview writes nothing
    changes = store.import_contacts(rows, ImportMode.ADD)
    assert [c.row for c in changes.added] == [3] == [c.row for c in preview.added]
    assert [r.previous_name for r in changes.renamed] == ["Katarina Engström"]
    assert len(store.contact_list()) == before + 1
    assert store.contact(katarina.id).name == "Katarina Engström-Lund"  # the same row, so the same id in the outbox


def test_replacing_changes_the_organisations_in_the_file_only(store):
    ostersund = keys(store, "ostersund")
    rows = [row(2, "sundsvall", "lärare", "Fredrik Sundqvist", "fredrik.sundqvist@sundsvall.example.se")]
    changes = store.import_contacts(rows, ImportMode.REPLACE)
    assert keys(store, "sundsvall") == {("lärare", "Fredrik Sundqvist", "fredrik.sundqvist@sundsvall.example.se")}
    assert keys(store, "ostersund") == ostersund
    assert len(changes.removed) == 5 and len(changes.added) == 1 and changes.unchanged == []


def test_an_import_is_all_or_nothing(store):
    before = {(c.organisation_id, c.target_group, c.name, c.email) for c in store.contact_list()}
    rows = [
        row(2, "berg", None, "Nils Berg", "nils.berg@berg.example.se"),
        row(3, "atlantis", None, "Nobody", "nobody@atlantis.example.se"),
    ]
    for mode in ImportMode:
        with pytest.raises(StoreError) as error:
            store.import_contacts(rows, mode)
        assert error.value.code == "unknown_organisation"
    twice = [
        row(2, "berg", None, "Nils Berg", "nils@berg.example.se"),
        row(3, "berg", None, "N B", "nils@berg.example.se"),
    ]
    with pytest.raises(StoreError):
        store.import_contacts(twice, ImportMode.ADD)
    assert {(c.organisation_id, c.target_group, c.name, c.email) for c in store.contact_list()} == before


def test_an_import_checks_that_the_contacts_are_as_previewed(store):
    rows = [row(2, "sundsvall", "lärare", "Pia Lärk", "pia.lark@sundsvall.example.se")]
    preview = store.preview_contacts_import(rows, ImportMode.REPLACE)
    store.add_contact("sundsvall", "rektor", "Ny Rektor", "ny.rektor@sundsvall.example.se")
    before = keys(store, "sundsvall")
    with pytest.raises(StoreError) as error:
        store.import_contacts(rows, ImportMode.REPLACE, preview.before)
    assert error.value.code == "contacts_changed" and keys(store, "sundsvall") == before
    store.add_contact("berg", "rektor", "Other Organisation", "rektor@berg.example.se")  # not in the file: no matter
    preview = store.preview_contacts_import(rows, ImportMode.REPLACE)
    store.add_contact("berg", "lärare", "Other Organisation", "larare@berg.example.se")
    changes = store.import_contacts(rows, ImportMode.REPLACE, preview.before)
    assert len(changes.removed) == 6 and keys(store, "sundsvall") == {
        ("lärare", "Pia Lärk", "pia.lark@sundsvall.example.se")
    }


def test_seeding_again_does_not_bring_back_a_removed_contact(store):
    [first, *_] = store.contact_list("berg")
    store.remove_contact(first.id)
    store.seed_reference(default_reference())
    assert store.contact_list("berg") == []
    assert len(store.contact_list()) == len(default_reference().contacts) - 1
