"""Staff roles and tokens: who may change things, who sees people, how a token is kept."""

from __future__ import annotations

import pytest

from domain.staff import Role, audit_by, may_change, parse_role, sees_people, token_digest, without_people


def test_only_coordinators_change_things_and_see_people():
    assert may_change(Role.COORDINATOR) and sees_people(Role.COORDINATOR)
    assert not may_change(Role.VIEWER) and not sees_people(Role.VIEWER)
    assert not may_change("admin") and not sees_people("")


def test_a_viewer_s_row_keeps_the_figures_without_the_person():
    row = {
        "name": "Anna",
        "email": "a@b.se",
        "school": "S",
        "team_members": ["B"],
        "organisation": "Åre",
        "status": "x",
    }
    assert without_people(row) == {
        "name": None,
        "email": None,
        "school": None,
        "team_members": [],
        "organisation": "Åre",
        "status": "x",
    }


@pytest.mark.parametrize(("typed", "role"), [("coordinator", Role.COORDINATOR), (" Viewer ", Role.VIEWER)])
def test_roles_are_parsed(typed, role):
    assert parse_role(typed) is role


@pytest.mark.parametrize("typed", ["admin", "", "x" * 10_000])
def test_other_roles_are_refused_naming_the_roles(typed):
    with pytest.raises(ValueError, match="coordinator or viewer"):
        parse_role(typed)


def test_tokens_are_kept_as_a_digest_and_authors_by_opaque_id():
    assert token_digest("abc") != "abc" and len(token_digest("abc")) == 64
    assert audit_by("st_0123456789abcdef") == "staff:st_0123456789abcdef"
