"""The participant web stub: health check, start page and read-only activity page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.web import create_app
from domain.plan import load_plan
from domain.reference import default_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
TITLE = "Läs- och skrivutveckling i alla ämnen"


@pytest.fixture
def plan():
    return load_plan(str(EXAMPLE), default_reference())


@pytest.fixture
def client(store) -> TestClient:
    with TestClient(create_app(store)) as client:
        yield client


@pytest.fixture
def stored(store, plan):
    store.save_plan(plan, True)
    return plan


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_index_without_activities(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="sv"' in response.text
    assert "/a/" not in response.text


def test_index_lists_stored_activities(client, stored):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'href="/a/{stored.id}"' in response.text
    assert TITLE in response.text


def test_activity_page(client, stored):
    response = client.get(f"/a/{stored.id}")
    assert response.status_code == 200
    html = response.text
    assert 'lang="sv"' in html
    assert f"<title>{TITLE} – RUN</title>" in html
    assert f"<h1>{TITLE}</h1>" in html
    assert "läs- och skrivutveckling" in html  # the description
    # Swedish dates in Swedish time, one per session, and the deadline.
    assert "torsdag 23 september 2027 kl. 09.00–15.00" in html
    assert "torsdag 21 oktober 2027 kl. 09.00–15.00" in html
    assert "torsdag 18 november 2027 kl. 13.00–16.00" in html
    assert "Sista anmälningsdag" in html and "fredag 10 september 2027 kl. 23.59" in html
    # The organiser's e-mail and rooms are not shown on the public page.
    assert "run@miun.example.se" not in html


def test_activity_page_shows_current_version(client, store, stored):
    store.save_plan(stored.model_copy(update={"title": "Läsa och skriva, ny version"}), True)
    response = client.get(f"/a/{stored.id}")
    assert response.status_code == 200
    assert "Läsa och skriva, ny version" in response.text


def test_unknown_activity_is_404(client, stored):
    response = client.get("/a/no-such-activity")
    assert response.status_code == 404
    assert "Aktiviteten finns inte" in response.text and 'lang="sv"' in response.text


def test_the_accessibility_statement_is_linked_from_every_page(client, stored):
    statement = client.get("/tillganglighet")
    assert statement.status_code == 200
    text = statement.text
    for part in ("WCAG 2.1 nivå AA", "Kända brister", "Rapportera brister", "run@miun.se", "Digg", "2018:1937"):
        assert part in text
    for path in ("/", "/a/lasa-skriva-ht27", "/tillganglighet", "/a/finns-inte"):
        assert 'href="/tillganglighet"' in client.get(path).text, path


def test_index_leaves_out_plans_not_yet_started(client, store, plan):
    store.save_plan(plan, False)  # saved as a draft in the back-office
    assert f'href="/a/{plan.id}"' not in client.get("/").text
    store.save_plan(plan, True)
    assert f'href="/a/{plan.id}"' in client.get("/").text
