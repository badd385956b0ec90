from datetime import datetime, timedelta

import pytest

from domain.plan import Location, PlanError, load_plan, parse_plan, parse_plan_text


def fields(problems):
    return {p.field for p in problems}


def test_example_plan_loads(example_path, reference):
    plan = load_plan(str(example_path), reference)
    assert plan.id == "lasa-skriva-ht27"
    assert plan.places == 40 and plan.min_participants == 20
    assert [s.location for s in plan.sessions] == [Location.SUNDSVALL, Location.OSTERSUND, Location.DIGITAL]
    assert plan.registration.reminders_before_deadline == [timedelta(days=14), timedelta(days=5)]
    assert plan.surveys.attendance_grace == timedelta(days=2)


def test_lifecycle_carries_no_personal_data(plan):
    life = plan.lifecycle(version=3)
    dumped = life.model_dump_json()
    for secret in [plan.organiser_email, "run@", "sal O111", "Campus", "zoom", "https://"]:
        assert secret not in dumped
    assert life.version == 3 and life.activity_id == plan.id
    assert [s.no for s in life.sessions] == [1, 2, 3]
    assert life.first_start == plan.sessions[0].start and life.last_end == plan.sessions[-1].end


def _move_session(data, i, start, end):
    data["sessions"][i]["start"] = datetime.fromisoformat(start)
    data["sessions"][i]["end"] = datetime.fromisoformat(end)


def _set(path, value):
    """A mutation that sets data[a][b]... = value (path 'a.b', ints index lists)."""

    def mutate(data):
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in parents:
            data = data[key]
        data[last] = value

    return mutate


def _delete(path):
    def mutate(data):
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in parents:
            data = data[key]
        del data[last]

    return mutate


INVALID = {
    "min above capacity": (_set("min_participants", 41), "min_participants", "above the 40 places"),
    "deadline after first session": (
        _set("registration.deadline", datetime.fromisoformat("2027-09-24T00:00:00+02:00")),
        "registration.deadline", "after the first session",
    ),
    "deadline before opening": (
        _set("registration", {"opens": datetime.fromisoformat("2027-09-11T00:00:00+02:00"),
                              "deadline": datetime.fromisoformat("2027-09-10T23:59:00+02:00")}),
        "registration.deadline", "after registration.opens",
    ),
    "sessions out of order": (
        lambda d: _move_session(d, 1, "2027-09-20T09:00:00+02:00", "2027-09-20T15:00:00+02:00"),
        "sessions[1].start", "out of order",
    ),
    "overlapping sessions": (
        lambda d: _move_session(d, 1, "2027-09-23T14:00:00+02:00", "2027-09-23T17:00:00+02:00"),
        "sessions[1].start", "overlaps sessions[0]",
    ),
    "session ends before it starts": (
        _set("sessions.0.end", datetime.fromisoformat("2027-09-23T08:00:00+02:00")),
        "sessions[0].end", "after its start",
    ),
    "unknown organisation": (_set("invitation.organisations", ["atlantis"]), "invitation.organisations[0]", "atlantis"),
    "unknown target group": (_set("target_groups", ["lärare", "astronaut"]), "target_groups[1]", "astronaut"),
    "bad duration": (_set("grace_period", "soon"), "grace_period", "ISO-8601"),
    "negative duration": (_set("session_reminder_before", -60), "session_reminder_before", "negative"),
    "huge duration": (_set("retention", float("inf")), "retention", "out of range"),
    "naive session start": (_set("sessions.0.start", datetime(2027, 9, 23, 9)), "sessions[0].start", "timezone"),
    "naive deadline text": (_set("registration.deadline", "2027-09-10T23:59:00"), "registration.deadline", "timezone"),
    "missing required field": (_delete("organiser_email"), "organiser_email", "required"),
    "unknown field": (_set("colour", "blue"), "colour", "Extra inputs"),
    "digital session without link": (_delete("sessions.2.link"), "sessions[2].link", "needs a link"),
    "reminder before opening": (
        _set("registration.reminders_before_deadline", ["5d", "30d"]),
        "registration.reminders_before_deadline[1]", "before registration opens",
    ),
    "zero reminder": (_set("registration.reminders_before_deadline", ["0s"]),
                      "registration.reminders_before_deadline[0]", "longer than zero"),
    "survey reminder not inside window": (_set("surveys.reminder_after", "14d"), "surveys.reminder_after", "shorter"),
    "follow-up not after final evaluation": (
        _set("surveys.follow_up_after", "1d"), "surveys.follow_up_after", "after surveys.final_evaluation_after",
    ),
    "team min above max": (
        _set("teams", {"allowed": True, "min_size": 8, "max_size": 4}), "teams.min_size", "above teams.max_size",
    ),
    "team max above places": (
        _set("teams", {"allowed": True, "min_size": 2, "max_size": 41}), "teams.max_size", "above the 40 places",
    ),
    "bad id slug": (_set("id", "Läsa Skriva!"), "id", "lowercase"),
    "bad e-mail": (_set("organiser_email", "run at miun"), "organiser_email", "not an e-mail address"),
    "unknown location": (_set("sessions.0.location", "mars"), "sessions[0].location", "sundsvall"),
}


@pytest.mark.parametrize(("mutate", "field", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_plan_names_its_field(plan_data, problems, mutate, field, message):
    mutate(plan_data)
    found = problems(plan_data)
    assert [p.field for p in found] == [field]
    assert message in found[0].message
    assert field in str(PlanError(found))


def test_team_sizes_are_not_checked_when_teams_are_not_allowed(plan_data, reference):
    plan_data["teams"] = {"allowed": False, "min_size": 8, "max_size": 4}
    assert parse_plan(plan_data, reference).teams.allowed is False


def test_reminder_exactly_at_opening_is_accepted(plan_data, reference):
    reg = plan_data["registration"]
    reg["reminders_before_deadline"] = [reg["deadline"] - reg["opens"]]
    assert parse_plan(plan_data, reference).registration.reminders_before_deadline[0] == reg["deadline"] - reg["opens"]


def test_reference_checks_need_reference_data(plan_data):
    plan_data["invitation"]["organisations"] = ["atlantis"]
    assert parse_plan(plan_data).invitation.organisations == ["atlantis"]


def test_every_field_problem_is_reported(plan_data, problems):
    plan_data["id"] = "X"
    plan_data["organiser_email"] = "nobody"
    plan_data["grace_period"] = "soon"
    plan_data["sessions"][1]["start"] = datetime(2027, 10, 21, 9)
    del plan_data["title"]
    assert fields(problems(plan_data)) == {"id", "organiser_email", "grace_period", "sessions[1].start", "title"}


def test_every_cross_field_problem_is_reported(plan_data, problems):
    plan_data["min_participants"] = 50
    plan_data["target_groups"] = ["astronaut"]
    plan_data["invitation"]["organisations"] = ["berg", "atlantis"]
    del plan_data["sessions"][2]["link"]
    plan_data["surveys"].update(reminder_after="20d", follow_up_after="1d")
    plan_data["registration"]["deadline"] = datetime.fromisoformat("2027-10-01T00:00:00+02:00")
    assert fields(problems(plan_data)) == {
        "min_participants", "target_groups[0]", "invitation.organisations[1]", "sessions[2].link",
        "surveys.reminder_after", "surveys.follow_up_after", "registration.deadline",
    }


def test_unreadable_file(tmp_path):
    with pytest.raises(PlanError) as info:
        load_plan(str(tmp_path / "missing.yaml"))
    [problem] = info.value.problems
    assert problem.field == "plan" and "cannot read" in problem.message


def test_invalid_yaml():
    with pytest.raises(PlanError) as info:
        parse_plan_text("id: [unclosed\n")
    [problem] = info.value.problems
    assert problem.field == "plan" and "not valid YAML" in problem.message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text", ""])
def test_yaml_that_is_not_a_mapping(text):
    with pytest.raises(PlanError) as info:
        parse_plan_text(text)
    [problem] = info.value.problems
    assert problem.field == "plan" and "mapping" in problem.message


@pytest.mark.parametrize("grace", ["2d", "PT0.5S", "P1DT1.000001S"])
def test_plan_round_trips_through_json(plan_data, reference, grace):
    plan_data["surveys"]["attendance_grace"] = grace
    plan = parse_plan(plan_data, reference)
    assert type(plan).model_validate_json(plan.model_dump_json()) == plan


def test_field_and_cross_field_problems_are_reported_together(plan_data, reference):
    plan_data["grace_period"] = "soon"
    plan_data["organiser_email"] = "x"
    plan_data["min_participants"] = 99
    plan_data["invitation"] = {"organisations": ["narnia"]}
    with pytest.raises(PlanError) as caught:
        parse_plan(plan_data, reference)
    by_field = {p.field: p.message for p in caught.value.problems}
    assert set(by_field) == {"grace_period", "organiser_email", "min_participants", "invitation.organisations[0]"}
    assert by_field["grace_period"].startswith("bad duration 'soon'")  # no pydantic "Value error, " prefix
