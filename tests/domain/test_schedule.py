from datetime import datetime, timedelta

import pytest

from domain.schedule import FINAL, FOLLOW_UP, StepKind, agenda, deadline_reminders

T = datetime.fromisoformat


def test_deadline_reminders_sorted_deduplicated_and_not_before_opening(lifecycle):
    plan = lifecycle.model_copy(
        update={
            "reminders_before_deadline": [
                timedelta(days=5),
                timedelta(days=14),
                timedelta(days=5),
                timedelta(days=30),
                timedelta(0),
            ]
        }
    )
    assert deadline_reminders(plan) == [T("2027-08-27T23:59:00+02:00"), T("2027-09-05T23:59:00+02:00")]


def test_deadline_reminder_exactly_at_opening_is_kept(lifecycle):
    offset = lifecycle.deadline - lifecycle.opens
    plan = lifecycle.model_copy(update={"reminders_before_deadline": [offset, offset + timedelta(seconds=1)]})
    assert deadline_reminders(plan) == [lifecycle.opens]


def test_agenda_before_anything_is_done(lifecycle):
    steps = agenda(lifecycle, {}, set())
    assert [s.key for s in steps] == [
        "s1:reminder",
        "s1:start",
        "s1:send",
        "s2:reminder",
        "s2:start",
        "s2:send",
        "s3:reminder",
        "s3:start",
        "final:send",
        "s3:send",
        "follow-up:send",
    ]
    assert [s.due for s in steps] == sorted(s.due for s in steps)
    by_key = {s.key: s for s in steps}
    s1 = lifecycle.sessions[0]
    assert by_key["s1:reminder"].due == s1.start - timedelta(days=2)
    assert by_key["s1:reminder"].kind is StepKind.SESSION_REMINDER
    assert by_key["s1:start"].due == s1.start and by_key["s1:start"].kind is StepKind.SESSION_START
    assert by_key["s1:send"].kind is StepKind.SURVEY_SEND and by_key["s1:send"].survey == "s1"
    assert by_key["final:send"].due == lifecycle.last_end + timedelta(days=1)
    assert by_key["follow-up:send"].due == lifecycle.last_end + timedelta(days=90)
    assert by_key["final:send"].session_no is None and by_key["s3:send"].session_no == 3


@pytest.mark.parametrize(("recorded", "grace"), [(set(), timedelta(days=2)), ({1}, timedelta(0))])
def test_session_survey_waits_for_attendance_or_grace(lifecycle, recorded, grace):
    by_key = {s.key: s for s in agenda(lifecycle, {}, recorded)}
    assert by_key["s1:send"].due == lifecycle.sessions[0].end + grace
    assert by_key["s2:send"].due == lifecycle.sessions[1].end + timedelta(days=2)


@pytest.mark.parametrize("survey", ["s1", FINAL, FOLLOW_UP])
def test_sent_survey_is_reminded_and_closed(lifecycle, survey):
    sent = T("2027-09-25T15:00:00+02:00")
    steps = {s.key: s for s in agenda(lifecycle, {f"{survey}:send": sent}, set())}
    assert f"{survey}:send" not in steps
    assert steps[f"{survey}:remind"].due == sent + timedelta(days=7)
    assert steps[f"{survey}:remind"].kind is StepKind.SURVEY_REMIND
    assert steps[f"{survey}:close"].due == sent + timedelta(days=14)
    assert steps[f"{survey}:close"].kind is StepKind.SURVEY_CLOSE
    done = {f"{survey}:send": sent, f"{survey}:remind": sent + timedelta(days=7)}
    assert [s.key for s in agenda(lifecycle, done, set()) if s.survey == survey] == [f"{survey}:close"]


def _all_done(plan):
    when = T("2027-09-01T00:00:00+02:00")
    keys = [f"s{s.no}:{what}" for s in plan.sessions for what in ("reminder", "start")]
    keys += [
        f"{sv}:{what}"
        for sv in [f"s{s.no}" for s in plan.sessions] + [FINAL, FOLLOW_UP]
        for what in ("send", "remind", "close")
    ]
    return {key: when + timedelta(days=i) for i, key in enumerate(keys)}


def test_report_is_the_only_step_when_everything_else_is_done(lifecycle):
    done = _all_done(lifecycle)
    [step] = agenda(lifecycle, done, {1, 2, 3})
    assert (step.key, step.kind, step.due) == ("report", StepKind.REPORT, max(done.values()))


def test_one_open_step_keeps_the_report_away(lifecycle):
    done = _all_done(lifecycle)
    del done["follow-up:close"]
    assert [s.key for s in agenda(lifecycle, done, set())] == ["follow-up:close"]


def test_agenda_is_empty_after_the_report(lifecycle):
    done = _all_done(lifecycle) | {"report": T("2028-06-01T00:00:00+02:00")}
    assert agenda(lifecycle, done, set()) == []
