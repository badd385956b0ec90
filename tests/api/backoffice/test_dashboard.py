"""The back-office overview: every activity with phase and figures, those waiting for a decision first with the
time left, filters by phase, focus area and term; built on the visibility list and the status query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.backoffice import BackOfficeConfig
from api.service import Refused
from api.web import create_app
from domain.lifecycle import ActivityStatus, NextDue
from domain.phases import Phase
from domain.refusals import RefusalCode
from tests.support.backoffice import sign_in
from tests.support.plans import plan_at

NOW = datetime.now(UTC)


class FakeService:
    """Visibility and status as Temporal would give them, for activities in several phases."""

    def __init__(self, statuses: dict[str, ActivityStatus], focus: dict[str, str], *, visibility: bool = True):
        self.statuses, self.focus, self.visibility = statuses, focus, visibility
        self.asked: list[str] = []

    async def list(self, phase=None, below_minimum=None):
        if not self.visibility:
            raise RuntimeError("ListWorkflowExecutions is not implemented")
        return [
            {
                "id": s.id,
                "workflow_id": f"activity-{s.id}",
                "status": "running",
                "phase": s.phase.value,
                "confirmed": s.confirmed,
                "below_minimum": s.confirmed < s.min_participants,
                "focus_area": self.focus[s.id],
                "first_session_start": (NOW + timedelta(days=30)).isoformat(),
            }
            for s in self.statuses.values()
        ]

    async def status(self, activity_id):
        self.asked.append(activity_id)
        if activity_id not in self.statuses:
            raise Refused("no activity", RefusalCode.NO_ACTIVITY)
        return self.statuses[activity_id]

    async def undeliverable(self, activity_id):
        return []


def status(activity_id: str, phase: Phase, confirmed: int, **extra) -> ActivityStatus:
    return ActivityStatus(
        id=activity_id,
        title=activity_id,
        phase=phase,
        plan_version=1,
        capacity=20,
        min_participants=8,
        confirmed=confirmed,
        waitlisted=0,
        withdrawn=0,
        registrations=confirmed,
        deadline=NOW + timedelta(days=1),
        **extra,
    )


@pytest.fixture
def office(store):
    plans = {
        "open-one": plan_at(NOW, id="open-one", title="Läslyftet träff", focus_area="utveckla"),
        "deciding-one": plan_at(NOW, id="deciding-one", title="Nätverk matematik", focus_area="samverka"),
        "done-one": plan_at(NOW, id="done-one", title="Avslutad kurs", focus_area="utveckla"),
        "draft-one": plan_at(NOW, id="draft-one", title="Utkast till webbinarium", focus_area="utveckla"),
    }
    for plan in plans.values():
        store.save_plan(plan, plan.id != "draft-one")  # the draft: saved in the back-office, not started
    service = FakeService(
        {
            "open-one": status(
                "open-one", Phase.OPEN, 3, next_due=NextDue(at=NOW + timedelta(days=1), what="registration deadline")
            ),
            "deciding-one": status(
                "deciding-one", Phase.DECIDING, 5, grace_until=datetime.now(UTC) + timedelta(hours=5, minutes=3)
            ),
            "done-one": status("done-one", Phase.COMPLETED, 12),
        },
        {"open-one": "utveckla", "deciding-one": "samverka", "done-one": "utveckla"},
    )
    app = create_app(store, service, secret_key="k" * 40, backoffice=BackOfficeConfig())  # type: ignore[arg-type]
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, store)
        yield client, service


def test_the_overview_puts_decisions_first_and_shows_the_figures(office):
    client, service = office
    html = client.get("/admin/").text
    assert "Väntar på ditt beslut" in html
    assert "Ställs in automatiskt om 5 timmar" in html
    table = html[html.index("<table>") :]
    deciding, *others, ended = (
        table.index(t) for t in ("Nätverk matematik", "Läslyftet träff", "Utkast till webbinarium", "Avslutad kurs")
    )
    assert deciding < min(others) and ended > max(others)  # then by first session, the ended last
    assert "Sista anmälningsdag" in html and "Under minimum" in html
    assert "Inte startad" in html  # saved, not started: from the store, its figures from the latest version
    draft = table[table.index("Utkast till webbinarium") :].split("</tr>")[0]
    assert '<td class="num">2</td><td class="num">3</td>' in draft  # minimum and places
    assert "done-one" not in service.asked  # ended activities are not queried


def test_filters_by_phase_focus_area_and_term(office):
    client, _ = office
    deciding = client.get("/admin/", params={"phase": "deciding"}).text
    assert "Nätverk matematik" in deciding and "Läslyftet träff" not in deciding.split("<table>")[1]
    by_focus = client.get("/admin/", params={"focus_area": "samverka"}).text.split("<table>")[1]
    assert "Nätverk matematik" in by_focus and "Läslyftet träff" not in by_focus
    not_started = client.get("/admin/", params={"phase": "not_started"}).text.split("<table>")[1]
    assert "Utkast till webbinarium" in not_started and "Läslyftet" not in not_started
    term = client.get("/admin/").text.split('id="term"')[1].split("</select>")[0]
    assert "HT 2026" in term or "VT 2027" in term
    nothing = client.get("/admin/", params={"term": "VT 1999"}).text
    assert "Inga aktiviteter med de här valen." in nothing


def test_without_visibility_each_activity_is_asked(store):
    store.save_plan(plan_at(NOW, id="open-one", title="Läslyftet träff"), True)
    service = FakeService({"open-one": status("open-one", Phase.OPEN, 3)}, {"open-one": "utveckla"}, visibility=False)
    app = create_app(store, service, secret_key="k" * 40, backoffice=BackOfficeConfig())  # type: ignore[arg-type]
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, store)
        html = client.get("/admin/").text
    assert "svarar inte just nu" in html and "Anmälan öppen" in html and service.asked == ["open-one"]
