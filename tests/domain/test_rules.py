from datetime import datetime, timedelta

import pytest

from domain.lifecycle import OverrideAction, OverrideRequest, RegistrationRequest
from domain.phases import Phase
from domain.rules import (
    DeadlineOutcome,
    deadline_outcome,
    needs_reminder,
    override_refusal,
    registration_refusal,
    withdrawal_refusal,
)
from domain.seats import SeatBook

NOW = datetime.fromisoformat("2027-09-01T12:00:00+02:00")
BEFORE_START = {Phase.PLANNED, Phase.OPEN, Phase.DECIDING, Phase.CONFIRMED}


@pytest.fixture
def teams_plan(lifecycle):
    return lifecycle.model_copy(update={"teams_allowed": True, "team_min": 3, "team_max": 6, "places": 10})


@pytest.fixture
def book():
    book = SeatBook(capacity=10)
    book.register(7, 1, "r7")
    return book


@pytest.mark.parametrize(
    ("confirmed", "outcome"),
    [(19, DeadlineOutcome.ASK_COORDINATOR), (20, DeadlineOutcome.CONFIRM), (25, DeadlineOutcome.CONFIRM)],
)
def test_deadline_outcome(confirmed, outcome):
    assert deadline_outcome(confirmed, 20) is outcome


@pytest.mark.parametrize(("confirmed", "expected"), [(0, True), (19, True), (20, False), (30, False)])
def test_reminders_only_below_the_minimum(confirmed, expected):
    assert needs_reminder(confirmed, 20) is expected


@pytest.mark.parametrize("phase", [p for p in Phase if p is not Phase.OPEN])
def test_registration_closed_outside_open(phase, lifecycle, book):
    why = registration_refusal(phase, lifecycle, book, RegistrationRequest(participant_id=1))
    assert why is not None and why.code == "registration_closed" and "closed" in why.message


def test_registration_open_and_duplicate(lifecycle, book):
    assert registration_refusal(Phase.OPEN, lifecycle, book, RegistrationRequest(participant_id=1)) is None
    why = registration_refusal(Phase.OPEN, lifecycle, book, RegistrationRequest(participant_id=7))
    assert why is not None and why.code == "already_registered" and "already registered" in why.message


def test_teams_not_allowed(lifecycle, book):
    why = registration_refusal(Phase.OPEN, lifecycle, book, RegistrationRequest(participant_id=1, team_size=3))
    assert "individual registrations only" in why.message


@pytest.mark.parametrize(("size", "allowed"), [(1, True), (2, False), (3, True), (6, True), (7, False), (0, False)])
def test_team_size_range_and_individuals_alongside_teams(teams_plan, book, size, allowed):
    why = registration_refusal(Phase.OPEN, teams_plan, book, RegistrationRequest(participant_id=1, team_size=size))
    if allowed:
        assert why is None
    else:
        assert f"team size {size} is outside 3-6" in why.message
        assert why.code == "team_size" and why.details == {"size": size, "min": 3, "max": 6}


def test_team_above_places(teams_plan, book):
    plan = teams_plan.model_copy(update={"places": 4})
    why = registration_refusal(Phase.OPEN, plan, book, RegistrationRequest(participant_id=1, team_size=5))
    assert "above the 4 places" in why.message
    assert registration_refusal(Phase.OPEN, plan, book, RegistrationRequest(participant_id=1, team_size=4)) is None


@pytest.mark.parametrize("phase", list(Phase))
def test_withdrawal_phases(phase, book):
    why = withdrawal_refusal(phase, book, 7)
    if phase in BEFORE_START or phase is Phase.RUNNING:
        assert why is None
    else:
        assert "withdrawal is closed" in why.message


def test_withdrawal_of_someone_not_registered(book):
    assert "not registered" in str(withdrawal_refusal(Phase.OPEN, book, 99))
    book.withdraw(7)
    assert "not registered" in str(withdrawal_refusal(Phase.OPEN, book, 7))


# -- overrides ------------------------------------------------------------------------------------


def _new_plan(lifecycle, **changes):
    values = {"version": lifecycle.version + 1, "deadline": NOW + timedelta(days=30)} | changes
    return lifecycle.model_copy(update=values)


def _valid_request(action, lifecycle):
    if action is OverrideAction.EXTEND:
        return OverrideRequest(action=action, until=NOW + timedelta(days=5))
    if action is OverrideAction.POSTPONE:
        return OverrideRequest(action=action, plan=_new_plan(lifecycle))
    return OverrideRequest(action=action)


ALLOWED = {
    OverrideAction.RUN: {Phase.DECIDING},
    OverrideAction.EXTEND: {Phase.OPEN, Phase.DECIDING},
    OverrideAction.POSTPONE: {Phase.OPEN, Phase.DECIDING},
    OverrideAction.CANCEL: {Phase.OPEN, Phase.DECIDING},
}


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("action", list(OverrideAction))
def test_override_phases(action, phase, lifecycle):
    why = override_refusal(phase, lifecycle, _valid_request(action, lifecycle), NOW)
    if phase in ALLOWED[action]:
        assert why is None
    else:
        assert f"'{action.value}' is only possible" in why.message and f"(it is {phase.value})" in why.message


@pytest.mark.parametrize(
    ("until", "reason"),
    [
        (None, "needs a new deadline"),
        (datetime(2027, 9, 15, 12), "timezone"),
        (NOW, "not in the future"),
        (NOW - timedelta(days=1), "not in the future"),
        (datetime.fromisoformat("2027-09-23T09:00:01+02:00"), "after the first session"),
    ],
)
def test_extend_refusals(lifecycle, until, reason):
    why = override_refusal(Phase.OPEN, lifecycle, OverrideRequest(action=OverrideAction.EXTEND, until=until), NOW)
    assert reason in why.message


def test_extend_up_to_the_first_session_is_allowed(lifecycle):
    req = OverrideRequest(action=OverrideAction.EXTEND, until=lifecycle.first_start)
    assert override_refusal(Phase.DECIDING, lifecycle, req, NOW) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"activity_id": "something-else"}, "the new plan is for 'something-else'"),
        ({"version": 1}, "version 1 is not newer than 1"),
        ({"version": 0}, "version 0 is not newer than 1"),
        ({"deadline": NOW}, "deadline is not in the future"),
    ],
)
def test_postpone_refusals(lifecycle, changes, reason):
    req = OverrideRequest(action=OverrideAction.POSTPONE, plan=_new_plan(lifecycle, **changes))
    assert reason in str(override_refusal(Phase.OPEN, lifecycle, req, NOW))


def test_postpone_needs_a_plan(lifecycle):
    req = OverrideRequest(action=OverrideAction.POSTPONE)
    assert "needs the new plan" in str(override_refusal(Phase.DECIDING, lifecycle, req, NOW))


def test_every_refusal_people_meet_has_a_swedish_text():
    """The refusals a participant can meet on the web are looked up by code, with their numbers filled in."""
    from domain.refusals import RefusalCode
    from domain.texts import REFUSAL_FALLBACK, REFUSALS, refusal_text

    for code in REFUSALS:
        assert refusal_text(code, {"size": 3, "min": 5, "max": 8, "places": 4, "year": 2020, "line": "x"}) != (
            REFUSAL_FALLBACK
        )
    assert refusal_text(RefusalCode.TEAM_SIZE, {"size": 3, "min": 5, "max": 8}) == (
        "Ett lag ska ha 5–8 deltagare (du angav 3)."
    )
    assert refusal_text("no_such_code") == REFUSAL_FALLBACK
    assert refusal_text(RefusalCode.TEAM_SIZE, {}) == REFUSAL_FALLBACK  # numbers missing: never a KeyError
