"""End to end: `runflow up` on free ports, a short plan driven through the CLI to completed, e-mails checked in the
sink."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
import yaml

pytestmark = pytest.mark.e2e


# The stack fixture and these helpers live in conftest.py, shared with test_browser.py (one stack per session).
def cli(stack, *args: str, expect: int = 0) -> dict:
    return stack.cli(*args, expect=expect)


def short_plan(now: datetime) -> dict:
    t = lambda s: (now + timedelta(seconds=s)).isoformat()  # noqa: E731
    return {
        "id": f"e2e-{now:%H%M%S}",
        "title": "E2E-kurs i bedömning",
        "description": "Kort testplan.",
        "focus_area": "utveckla",
        "target_groups": ["lärare"],
        "format": "course",
        "organiser_email": "samordnare@run.test",
        "places": 3,
        "min_participants": 2,
        "registration": {"opens": t(4), "deadline": t(45), "reminders_before_deadline": []},
        "grace_period": "5s",
        "sessions": [
            {"start": t(51), "end": t(60), "location": "sundsvall", "room": "O111"},
            {"start": t(64), "end": t(67), "location": "digital", "link": "https://meet.test/e2e"},
        ],
        "session_reminder_before": "3s",
        "surveys": {
            "window": "6s",
            "reminder_after": "3s",
            "attendance_grace": "4s",
            "final_evaluation_after": "2s",
            "follow_up_after": "8s",
        },
        "retention": "3s",
        "invitation": {"organisations": ["sundsvall", "ostersund"]},
    }


def wait_for_phase(stack, activity_id: str, phases: set[str], timeout: float) -> dict:
    return stack.wait_for_phase(activity_id, phases, timeout)


def sleep_until(at: datetime) -> None:
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def test_a_short_plan_runs_to_completed_through_the_cli(stack, tmp_path):
    now = datetime.now(UTC)
    plan = short_plan(now)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True))
    aid = plan["id"]
    assert cli(stack, "plan", "check", str(path))["valid"] is True
    assert cli(stack, "activity", "start", str(path))["id"] == aid
    cli(stack, "activity", "start", str(path), expect=2)  # already started

    sleep_until(now + timedelta(seconds=5))
    people = [
        ("Anna A", "anna@skola.test", "sundsvall"),
        ("Bo B", "bo@skola.test", "ostersund"),
        ("Cia C", "cia@skola.test", "are"),
        ("Dan D", "dan@skola.test", "sundsvall"),
    ]
    statuses = [
        cli(stack, "register", aid, "--name", n, "--email", e, "--org", o, "--role", "lärare")["status"]
        for n, e, o in people
    ]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    promoted = cli(stack, "withdraw", aid, "--email", "cia@skola.test")["promoted"]
    assert len(promoted) == 1
    shown = cli(stack, "activity", "show", aid)
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
    deadline = time.monotonic() + 20
    while aid not in [row["id"] for row in cli(stack, "activity", "list", "--phase", "open")["activities"]]:
        assert time.monotonic() < deadline, "the activity never showed up in the open listing"
        time.sleep(1)
    below = cli(stack, "activity", "list", "--phase", "open", "--below-minimum")["activities"]
    assert aid not in [row["id"] for row in below]  # 3 confirmed, minimum 2

    wait_for_phase(stack, aid, {"running"}, timeout=60)
    assert cli(stack, "attendance", aid, "1", "--present", "anna@skola.test", "bo@skola.test")["present"] == 2
    final = wait_for_phase(stack, aid, {"completed", "anonymised"}, timeout=90)
    assert [d["kind"] for d in final["decisions"]][:1] == ["confirm"]
    report = cli(stack, "report", aid)
    assert report["summary"]["confirmed"] == 3

    mails = [
        BytesParser(policy=policy.default).parsebytes(p.read_bytes())
        for p in sorted((stack["data"] / "mail").glob("*.eml"))
    ]
    mine = [m for m in mails if "E2E-kurs" in m["Subject"]]
    keys = Counter(m["X-Runflow-Key"] for m in mine)
    assert max(keys.values()) == 1, keys  # every business key (activity, purpose, recipient, session) sent once
    sent = {(m["To"], m["X-Runflow-Purpose"]) for m in mine}
    to = lambda purpose: sorted(addr for addr, p in sent if p == purpose)  # noqa: E731
    assert to("invitation") == ["run-kontakt@ostersund.example.se", "run-kontakt@sundsvall.example.se"]
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
