"""End to end: `runflow up` on free ports, a short plan driven through the CLI to completed, e-mails checked in the
sink."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from tests.support.plans import plan_data_in_seconds
from tests.support.waiting import sleep_until_sync, wait_for_sync

pytestmark = pytest.mark.e2e


# The stack fixture and its helpers (cli, wait_for_phase, mails) live in conftest.py, shared with test_browser.py.
def short_plan(now: datetime) -> dict:
    """Registration open from 4 s to 45 s (the CLI's registrations take a while), sessions at 51-60 s and 64-67 s."""
    return plan_data_in_seconds(
        f"e2e-{now:%H%M%S}",
        now,
        opens=4,
        deadline=45,
        sessions=((6, 15), (19, 22)),
        title="E2E-kurs i bedömning",
        description="Kort testplan.",
        session_reminder_before="3s",
        surveys={
            "window": "6s",
            "reminder_after": "3s",
            "attendance_grace": "4s",
            "final_evaluation_after": "2s",
            "follow_up_after": "8s",
        },
        retention="3s",
        invitation={"organisations": ["sundsvall", "ostersund"]},
    )


def test_a_short_plan_runs_to_completed_through_the_cli(stack, tmp_path):
    now = datetime.now(UTC)
    plan = short_plan(now)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True))
    aid = plan["id"]
    assert stack.cli("plan", "check", str(path))["valid"] is True
    assert stack.cli("activity", "start", str(path))["id"] == aid
    stack.cli("activity", "start", str(path), expect=2)  # already started

    sleep_until_sync(now + timedelta(seconds=5))
    people = [
        ("Anna A", "anna@skola.test", "sundsvall"),
        ("Bo B", "bo@skola.test", "ostersund"),
        ("Cia C", "cia@skola.test", "are"),
        ("Dan D", "dan@skola.test", "sundsvall"),
    ]
    statuses = [
        stack.cli("register", aid, "--name", n, "--email", e, "--org", o, "--role", "lärare")["status"]
        for n, e, o in people
    ]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    promoted = stack.cli("withdraw", aid, "--email", "cia@skola.test")["promoted"]
    assert len(promoted) == 1
    shown = stack.shown_both_ways(aid)
    assert {k: shown[k] for k in ("id", "phase", "confirmed", "waitlisted", "capacity", "min_participants")} == {
        "id": aid,
        "phase": "open",
        "confirmed": 3,
        "waitlisted": 0,
        "capacity": 3,
        "min_participants": 2,
    }
    assert shown["deadline"]
    # Visibility is eventually consistent: the listing catches up with the search attributes shortly.
    wait_for_sync(
        lambda: aid in [row["id"] for row in stack.cli("activity", "list", "--phase", "open")["activities"]],
        20,
        f"{aid} in the open listing",
        interval=0.5,
    )
    below = stack.cli("activity", "list", "--phase", "open", "--below-minimum")["activities"]
    assert aid not in [row["id"] for row in below]  # 3 confirmed, minimum 2

    stack.wait_for_phase(aid, {"running"}, timeout=60)
    assert stack.cli("attendance", aid, "1", "--present", "anna@skola.test", "bo@skola.test")["present"] == 2
    final = stack.wait_for_phase(aid, {"completed", "anonymised"}, timeout=90)
    assert stack.shown_both_ways(aid)["sessions"]  # with its sessions, decisions and surveys
    assert [d["kind"] for d in final["decisions"]][:1] == ["confirm"]
    report = stack.cli("report", aid)
    assert report["summary"]["confirmed"] == 3

    mine = [m for m in stack.mails() if "E2E-kurs" in m["Subject"]]
    keys = Counter(m["X-Runflow-Key"] for m in mine)
    assert max(keys.values()) == 1, keys  # every business key (activity, purpose, recipient, session) sent once
    sent = {(m["To"], m["X-Runflow-Purpose"]) for m in mine}
    to = lambda purpose: sorted(addr for addr, p in sent if p == purpose)  # noqa: E731
    assert to("invitation") == ["katarina.engstrom@sundsvall.example.se", "maria.lindqvist@ostersund.example.se"]
    assert to("registration") == ["anna@skola.test", "bo@skola.test", "cia@skola.test", "dan@skola.test"]
    assert to("withdrawal") == ["cia@skola.test"] and to("promoted") == ["dan@skola.test"]
    assert to("confirmed") == ["anna@skola.test", "bo@skola.test", "dan@skola.test"]
    assert to("report") == ["samordnare@run.test"]
    surveys = [m for m in mine if m["X-Runflow-Purpose"] == "survey"]
    s1 = sorted(m["To"] for m in surveys if "träff 1" in m["Subject"])
    assert s1 == ["anna@skola.test", "bo@skola.test"]  # only those present at session 1
    assert "cia@skola.test" not in {m["To"] for m in surveys}
    s2 = sorted(m["To"] for m in surveys if "träff 2" in m["Subject"])
    assert s2 == ["anna@skola.test", "bo@skola.test", "dan@skola.test"]  # no attendance recorded: all confirmed
    # Session 2's attendance was never recorded, so the final evaluation and follow-up go to everyone confirmed.
    assert len([m for m in surveys if m["To"] == "dan@skola.test"]) == 3
