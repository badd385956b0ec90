"""The coordinator's preview: computed with the engine's rules, so it says what the workflow will do."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.lifecycle import LifecyclePlan
from domain.plan import ActivityPlan, parse_plan
from domain.schedule import FINAL, FOLLOW_UP, StepKind, agenda, deadline_reminders, session_survey
from domain.timeline import EntryKind, TimelineEntry, timeline, timeline_rows

T = datetime.fromisoformat


def _by_key(entries: list[TimelineEntry]) -> dict[str, TimelineEntry]:
    keyed = [e for e in entries if e.key]
    assert len({e.key for e in keyed}) == len(keyed), "a step appears twice"
    return {e.key: e for e in keyed}


def test_example_plan_in_order(plan: ActivityPlan) -> None:
    entries = timeline(plan)
    kinds = [e.kind for e in entries]
    assert kinds[:5] == ["invitation", "deadline_reminder", "deadline_reminder", "deadline", "grace_end"]
    assert kinds[-2:] == ["report", "anonymisation"]
    assert kinds.count("session_start") == 3 and kinds.count("session_reminder") == 3
    assert kinds.count("survey_send") == kinds.count("survey_remind") == kinds.count("survey_close") == 5
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert all(e.at.utcoffset() == timedelta(0) for e in entries)
    assert entries[0].at == T("2027-08-16T08:00:00+02:00")
    assert entries[3].at == T("2027-09-10T23:59:00+02:00")
    assert entries[4].at == T("2027-09-13T23:59:00+02:00")  # deadline + 3d grace


def test_deadline_reminders_are_the_engines(lifecycle: LifecyclePlan, plan: ActivityPlan) -> None:
    reminders = [e.at for e in timeline(plan) if e.kind == EntryKind.DEADLINE_REMINDER]
    assert reminders == deadline_reminders(lifecycle)


def test_steps_after_confirmation_are_the_agendas(plan: ActivityPlan) -> None:
    """Every step `agenda` lists before anything is done is in the preview at its due time; each survey's reminder
    and closing are where `agenda` puts them once the survey has gone out at the preview's time."""
    lifecycle = plan.lifecycle(1)
    entries = _by_key(timeline(plan))
    first = agenda(lifecycle, {}, set())
    assert first, "the agenda is never empty before anything is done"
    for step in first:
        assert entries[step.key].at == step.due, step.key
        assert entries[step.key].kind == step.kind.value
    surveys = [session_survey(s.no) for s in lifecycle.sessions] + [FINAL, FOLLOW_UP]
    for survey in surveys:
        sent = entries[f"{survey}:send"].at
        later = {s.key: s for s in agenda(lifecycle, {f"{survey}:send": sent}, set())}
        assert entries[f"{survey}:remind"].at == later[f"{survey}:remind"].due
        assert entries[f"{survey}:close"].at == later[f"{survey}:close"].due


def test_report_after_the_last_step_and_anonymisation_a_retention_later(plan: ActivityPlan) -> None:
    entries = timeline(plan)
    report = next(e for e in entries if e.kind == EntryKind.REPORT)
    assert report.at == max(e.at for e in entries if e.kind == EntryKind.SURVEY_CLOSE)
    assert entries[-1].kind == EntryKind.ANONYMISATION
    assert entries[-1].at == report.at + plan.retention


def test_no_reminders_nor_grace_without_a_minimum(plan_data: dict[str, Any]) -> None:
    plan_data["min_participants"] = 0
    kinds = {e.kind for e in timeline(parse_plan(plan_data))}
    assert EntryKind.DEADLINE_REMINDER not in kinds and EntryKind.GRACE_END not in kinds
    assert EntryKind.DEADLINE in kinds


def test_session_reminder_at_the_start_is_left_out_as_the_engine_skips_it(plan_data: dict[str, Any]) -> None:
    plan_data["session_reminder_before"] = "0s"
    kinds = [e.kind for e in timeline(parse_plan(plan_data))]
    assert EntryKind.SESSION_REMINDER not in kinds and kinds.count(EntryKind.SESSION_START) == 3


def test_session_reminder_due_before_the_deadline_goes_out_at_confirmation(plan_data: dict[str, Any]) -> None:
    plan_data["session_reminder_before"] = "20d"  # the first session's reminder is due before the deadline
    plan = parse_plan(plan_data)
    entries = _by_key(timeline(plan))
    assert entries["s1:reminder"].at == plan.registration.deadline
    assert entries["s2:reminder"].at == plan.sessions[1].start - timedelta(days=20)


def test_rows_are_swedish_time_and_text(plan: ActivityPlan) -> None:
    rows = timeline_rows(plan)
    assert rows[0] == (
        "måndag 16 augusti 2027 kl. 08.00",
        "Anmälan öppnar och inbjudan går ut till kontakterna för målgruppen (lärare, specialpedagog och förstelärare).",
    )
    assert ("torsdag 23 september 2027 kl. 09.00", "Träff 1 av 3 börjar på campus Sundsvall.") in rows
    assert rows[-1][1].startswith("Personuppgifterna i aktiviteten raderas (namn, e-postadresser, skolor och fritext")


def test_demo_plan_in_seconds_keeps_its_seconds(plan_data: dict[str, Any]) -> None:
    start = T("2027-08-16T08:00:00+02:00")
    plan_data["registration"] = {"opens": start, "deadline": start + timedelta(seconds=14)}
    plan_data["grace_period"] = "5s"
    plan_data["sessions"] = [
        {"start": start + timedelta(seconds=17), "end": start + timedelta(seconds=20), "location": "sundsvall"}
    ]
    plan_data["session_reminder_before"] = "2s"
    plan_data["surveys"] = {"window": "4s", "reminder_after": "2s", "attendance_grace": "2s"}
    plan_data["surveys"] |= {"final_evaluation_after": "1s", "follow_up_after": "3s"}
    plan_data["retention"] = "5s"
    rows = timeline_rows(parse_plan(plan_data))
    assert rows[0][0] == "måndag 16 augusti 2027 kl. 08.00"
    assert rows[-1][0] == "måndag 16 augusti 2027 kl. 08.00.32"  # follow-up closes at 27 s, anonymised 5 s later


# -- any plan --------------------------------------------------------------------------------------------------------
BASE = T("2027-08-16T08:00:00+02:00")
EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml").read_text("utf-8"))


@st.composite
def plans(draw: st.DrawFn) -> ActivityPlan:
    data = copy.deepcopy(EXAMPLE)
    unit = draw(st.sampled_from([timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)]))

    def span(low: int = 0, high: int = 40) -> timedelta:
        return int(draw(st.integers(low, high))) * unit

    opens = BASE + span()
    deadline = opens + span(1)
    data["registration"] = {
        "opens": opens,
        "deadline": deadline,
        "reminders_before_deadline": [
            x * unit for x in draw(st.lists(st.integers(1, (deadline - opens) // unit), max_size=4))
        ],
    }
    data["min_participants"] = draw(st.integers(0, 5))
    data["grace_period"] = span()
    sessions = []
    start = deadline + span()
    for _ in range(draw(st.integers(1, 4))):
        end = start + span(1, 5)
        sessions.append({"start": start, "end": end, "location": "sundsvall"})
        start = end + span()
    data["sessions"] = sessions
    data["session_reminder_before"] = span()
    window = span(1)
    final_after = span()
    data["surveys"] = {
        "window": window,
        "reminder_after": draw(st.integers(0, window // unit - 1)) * unit,
        "attendance_grace": span(),
        "final_evaluation_after": final_after,
        "follow_up_after": final_after + span(1),
    }
    data["retention"] = span()
    return parse_plan(data)  # days long, it crosses the change from summer time


@settings(max_examples=150, deadline=None)
@given(plans())
def test_any_plan_agrees_with_the_agenda(plan: ActivityPlan) -> None:
    lifecycle = plan.lifecycle(1)
    entries = timeline(plan)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in entries)
    assert all(e.what and e.kind in set(EntryKind) for e in entries)
    by_key = _by_key(entries)
    # Replay the preview's own times through the agenda: each step is due no later than the preview takes it, and
    # taken as soon as it is due (or at confirmation, for a step due before the deadline).
    skipped = {s.key: s.due for s in agenda(lifecycle, {}, set()) if s.kind is StepKind.SESSION_REMINDER}
    done = {key: due for key, due in skipped.items() if key not in by_key}  # the engine marks them done too
    for entry in sorted(by_key.values(), key=lambda e: e.at):
        if entry.kind not in {k.value for k in StepKind}:
            continue
        pending = {s.key: s for s in agenda(lifecycle, done, set())}
        assert entry.key in pending, entry.key
        assert entry.at == max(pending[entry.key].due, lifecycle.deadline), entry.key
        done[entry.key] = entry.at
    sessions = len(lifecycle.sessions)
    kinds = [e.kind for e in entries]
    assert kinds.count(EntryKind.SESSION_START) == sessions
    assert kinds.count(EntryKind.SURVEY_SEND) == sessions + 2
    assert kinds.count(EntryKind.SURVEY_CLOSE) == sessions + 2
    # Last comes the anonymisation; only the end of the grace period (shown in case the minimum is not reached, when
    # the rest would move) can fall later, in a plan whose whole lifecycle is shorter than its grace period.
    assert [k for k in kinds if k != EntryKind.GRACE_END][-1] == EntryKind.ANONYMISATION
    report = by_key["report"]
    [anonymisation] = [e for e in entries if e.kind == EntryKind.ANONYMISATION]
    assert anonymisation.at == report.at + lifecycle.retention
    reminders = [e.at for e in entries if e.kind == EntryKind.DEADLINE_REMINDER]
    assert reminders == (deadline_reminders(lifecycle) if lifecycle.min_participants > 0 else [])


def test_anonymisation_keeps_free_text_when_the_plan_says_so(plan_data: dict[str, Any]) -> None:
    plan_data["surveys"]["keep_free_text"] = True
    last = timeline(parse_plan(plan_data))[-1]
    assert last.kind == EntryKind.ANONYMISATION and "fritext" not in last.what
