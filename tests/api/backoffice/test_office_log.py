"""The office's log: changes that belong to no activity (contacts, API tokens) are in the store's audit log by
staff id, and shown with the member's name at /admin/logg."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.staff import Role
from tests.support.backoffice import post_form, sign_in


@pytest.fixture
def client(store) -> TestClient:
    app = create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig())
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_contacts_and_tokens_changes_are_logged_by_staff_id(client, store):
    member = sign_in(client, store, "kerstin@miun.se")
    created = post_form(client, "/admin/tokens", "/admin/tokens", {"label": "Rapportskript"})
    assert created.status_code == 200
    added = post_form(
        client,
        "/admin/contacts",
        "/admin/contacts",
        {
            "organisation": "sundsvall",
            "target_group": "lärare",
            "name": "Pia Lärk",
            "email": "pia@sundsvall.example.se",
        },
    )
    assert added.status_code == 303, added.text
    entries = store.audit_log("")
    assert [e.kind for e in entries] == ["api_token_created", "contact_added"]
    assert {e.by for e in entries} == {f"staff:{member.id}"}
    assert not any("pia@" in e.details_json or "Pia" in e.reason for e in entries)  # no personal data in the log
    log = client.get("/admin/logg").text
    assert "Personlig API-nyckel skapad" in log and "Kontakt tillagd" in log and "Kerstin" in log


def test_viewers_read_the_log(client, store):
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    assert client.get("/admin/logg").status_code == 200
