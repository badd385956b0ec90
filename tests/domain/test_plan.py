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
        "registration.deadline",
        "after the first session",
    ),
    "deadline before opening": (
        _set(
            "registration",
            {
                "opens": datetime.fromisoformat("2027-09-11T00:00:00+02:00"),
                "deadline": datetime.fromisoformat("2027-09-10T23:59:00+02:00"),
            },
        ),
        "registration.deadline",
        "after registration.opens",
    ),
    "sessions out of order": (
        lambda d: _move_session(d, 1, "2027-09-20T09:00:00+02:00", "2027-09-20T15:00:00+02:00"),
        "sessions[1].start",
        "out of order",
    ),
    "overlapping sessions": (
        lambda d: _move_session(d, 1, "2027-09-23T14:00:00+02:00", "2027-09-23T17:00:00+02:00"),
        "sessions[1].start",
        "overlaps sessions[0]",
    ),
    "session ends before it starts": (
        _set("sessions.0.end", datetime.fromisoformat("2027-09-23T08:00:00+02:00")),
        "sessions[0].end",
        "after its start",
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
        "registration.reminders_before_deadline[1]",
        "before registration opens",
    ),
    "zero reminder": (
        _set("registration.reminders_before_deadline", ["0s"]),
        "registration.reminders_before_deadline[0]",
        "longer than zero",
    ),
    "survey reminder not inside window": (_set("surveys.reminder_after", "14d"), "surveys.reminder_after", "shorter"),
    "follow-up not after final evaluation": (
        _set("surveys.follow_up_after", "1d"),
        "surveys.follow_up_after",
        "after surveys.final_evaluation_after",
    ),
    "team min above max": (
        _set("teams", {"allowed": True, "min_size": 8, "max_size": 4}),
        "teams.min_size",
        "above teams.max_size",
    ),
    "team max above places": (
        _set("teams", {"allowed": True, "min_size": 2, "max_size": 41}),
        "teams.max_size",
        "above the 40 places",
    ),
    "bad id slug": (_set("id", "Läsa Skriva!"), "id", "lowercase"),
    "bad e-mail": (_set("organiser_email", "run at miun"), "organiser_email", "not a valid e-mail address"),
    "unknown location": (_set("sessions.0.location", "mars"), "sessions[0].location", "sundsvall"),
    # free texts: single lines have no control characters (a CR in the title broke the invitation's header)
    "CR in the title": (_set("title", "Läsa\r\nBcc: x@evil.example"), "title", "one line without control"),
    "title too long": (_set("title", "x" * 201), "title", "at most 200 characters"),
    "focus area too long": (_set("focus_area", "x" * 101), "focus_area", "at most 100 characters"),
    "newline in a target group": (_set("target_groups", ["lärare\n"]), "target_groups[0]", "one line"),
    "target group too long": (_set("target_groups", ["x" * 101]), "target_groups[0]", "at most 100 characters"),
    "NUL in a room": (_set("sessions.0.room", "sal\x00O111"), "sessions[0].room", "U+0000"),
    "room too long": (_set("sessions.0.room", "x" * 201), "sessions[0].room", "at most 200 characters"),
    "line separator in a session title": (_set("sessions.0.title", "Träff\u2028ett"), "sessions[0].title", "U+2028"),
    "session title too long": (_set("sessions.0.title", "x" * 201), "sessions[0].title", "at most 200"),
    "CR in an organisation id": (
        _set("invitation.organisations", ["berg\r"]),
        "invitation.organisations[0]",
        "one line",
    ),
    "description too long": (_set("description", "x" * 5001), "description", "at most 5000 characters"),
    "control character in the description": (
        _set("description", "rad\x1b[31m"),
        "description",
        "other than newline and tab",
    ),
    "link not http": (_set("sessions.2.link", "ftp://miun.se/zoom"), "sessions[2].link", "http(s) URL"),
    "javascript link": (_set("sessions.2.link", "javascript:alert(1)"), "sessions[2].link", "http(s) URL"),
    "link without a scheme": (_set("sessions.2.link", "miun.se/zoom"), "sessions[2].link", "http(s) URL"),
    "link with a space": (_set("sessions.2.link", "https://miun.se/a b"), "sessions[2].link", "without spaces"),
    "link with a newline": (_set("sessions.2.link", "https://miun.se/\nx"), "sessions[2].link", "one line"),
    "link too long": (_set("sessions.2.link", "https://miun.se/" + "a" * 490), "sessions[2].link", "at most 500"),
    "display name in the organiser e-mail": (
        _set("organiser_email", '"RUN" <run@miun.se>'),
        "organiser_email",
        "not a valid e-mail address",
    ),
    "too many reminders": (
        _set("registration.reminders_before_deadline", ["1d"] * 21),
        "registration.reminders_before_deadline",
        "at most 20",
    ),
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
        "min_participants",
        "target_groups[0]",
        "invitation.organisations[1]",
        "sessions[2].link",
        "surveys.reminder_after",
        "surveys.follow_up_after",
        "registration.deadline",
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


def test_free_texts_within_the_limits_are_kept_as_written(plan_data, reference):
    plan_data["description"] = "Rad ett,\n\tindragen rad två." + "x" * 4970
    plan_data["title"] = "t" * 200
    plan_data["sessions"][0].update(room="r" * 200, title="Första träffen", link="http://miun.se/rum")
    plan_data["organiser_email"] = " RUN@Miun.Example.SE "
    plan = parse_plan(plan_data, reference)
    assert plan.description == plan_data["description"] and plan.title == "t" * 200
    assert plan.sessions[0].link == "http://miun.se/rum" and isinstance(plan.sessions[0].link, str)
    assert plan.organiser_email == "run@miun.example.se"  # stored normalised
    assert type(plan).model_validate_json(plan.model_dump_json()) == plan


HUGE = "x" * 100_000


@pytest.mark.parametrize(
    "mutate",
    [
        _set("title", HUGE),
        _set("description", HUGE),
        _set("focus_area", HUGE),
        _set("target_groups", [HUGE]),
        _set("organiser_email", HUGE),
        _set("grace_period", HUGE),
        _set("sessions.0.room", HUGE),
        _set("sessions.0.link", HUGE),
        _set("invitation.organisations", [HUGE[:99]]),
        _set("target_groups", [HUGE[:99]]),
        _set("registration.opens", HUGE),
        _set("places", HUGE),
        _set(HUGE, 1),
        _set("teams", {HUGE: 1}),
    ],
    ids=[
        "title",
        "description",
        "focus_area",
        "target_group",
        "organiser_email",
        "duration",
        "room",
        "link",
        "unknown organisation",
        "unknown target group",
        "time",
        "places",
        "unknown field",
        "unknown nested field",
    ],
)
def test_no_message_echoes_a_huge_value(plan_data, reference, mutate):
    mutate(plan_data)
    with pytest.raises(PlanError) as refused:
        parse_plan(plan_data, reference)
    assert len(str(refused.value)) < 400
    assert all(len(p.field) < 100 and len(p.message) < 300 for p in refused.value.problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: " + "[" * 20_000 + "]" * 20_000, "is nested deeper than 20 levels"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]\n" for i in range(1, 9)
            ),
            "has more than 10000 values (after expanding YAML aliases)",
        ),
        ("# " + "x" * 300_000, "is larger than 256 KiB"),
    ],
)
def test_hostile_plan_text_is_one_plan_problem(text, message):
    with pytest.raises(PlanError) as refused:
        parse_plan_text(text)
    assert [(p.field, p.message) for p in refused.value.problems] == [("plan", message)]


def test_load_plan_reads_no_more_than_the_limit(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * (10 * 1024 * 1024))
    with pytest.raises(PlanError) as refused:
        load_plan(str(path))
    assert str(refused.value) == "plan: is larger than 256 KiB"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(PlanError) as refused:
        load_plan(str(binary))
    assert "not UTF-8 text" in str(refused.value)
