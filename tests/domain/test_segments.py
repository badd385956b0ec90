"""Segments: who a coordinator's message goes to, parsed from a short code and labelled in Swedish."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.plan import ActivityPlan, load_plan
from domain.schedule import session_survey
from domain.segments import (
    MAX_SEGMENT_TEXT,
    Segment,
    SegmentError,
    SegmentKind,
    parse_segment,
    segment_choices,
    segment_label,
)


@pytest.mark.parametrize(
    ("code", "segment", "label"),
    [
        ("confirmed", Segment(kind=SegmentKind.CONFIRMED), "Bekräftade"),
        ("waitlisted", Segment(kind=SegmentKind.WAITLISTED), "Reservlistan"),
        ("present:2", Segment(kind=SegmentKind.PRESENT, session_no=2), "Närvarande vid träff 2"),
        ("absent:1", Segment(kind=SegmentKind.ABSENT, session_no=1), "Frånvarande vid träff 1"),
        (
            "unanswered:s1",
            Segment(kind=SegmentKind.UNANSWERED, survey="s1"),
            "Har inte svarat på enkäten efter träff 1",
        ),
        (
            "unanswered:final",
            Segment(kind=SegmentKind.UNANSWERED, survey="final"),
            "Har inte svarat på slututvärderingen",
        ),
        (
            "unanswered:follow-up",
            Segment(kind=SegmentKind.UNANSWERED, survey="follow-up"),
            "Har inte svarat på uppföljningen",
        ),
        (" present:3 ", Segment(kind=SegmentKind.PRESENT, session_no=3), "Närvarande vid träff 3"),
    ],
)
def test_codes_labels_and_back(plan: ActivityPlan, code: str, segment: Segment, label: str) -> None:
    assert parse_segment(code, plan) == segment
    assert parse_segment(code, plan.lifecycle()) == segment
    assert segment_label(segment) == label
    assert segment.code == code.strip()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("present:4", "Aktiviteten har ingen träff 4. Den har 3 träffar."),
        ("absent:99", "Aktiviteten har ingen träff 99. Den har 3 träffar."),
        ("unanswered:s4", "Aktiviteten har ingen träff 4, och därför ingen enkät efter den. Den har 3 träffar."),
        ("unanswered:s0", "Välj en av aktivitetens enkäter i listan."),
        ("unanswered:evaluation", "Välj en av aktivitetens enkäter i listan."),
        ("unanswered:", "Välj en av aktivitetens enkäter i listan."),
    ],
)
def test_sessions_and_surveys_the_plan_does_not_have(plan: ActivityPlan, code: str, message: str) -> None:
    with pytest.raises(SegmentError) as info:
        parse_segment(code, plan)
    assert info.value.text == message == str(info.value)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "everyone",
        "Confirmed",
        "confirmed:",
        "confirmed:1",
        "waitlisted:x",
        "present",
        "present:",
        "present:0",
        "present:02",
        "present:-1",
        "present:+1",
        "present: 1",
        "present:1.0",
        "present:١",  # an Arabic-Indic digit: a digit to str.isdigit, not to us
        "present:²",
        "absent:1:2",
        "present:" + "9" * 30,
        "confirmed" + " " * MAX_SEGMENT_TEXT,
    ],
)
def test_anything_else_is_refused(plan: ActivityPlan, code: str) -> None:
    with pytest.raises(SegmentError) as info:
        parse_segment(code, plan)
    assert info.value.text == "Välj vilka meddelandet ska gå till i listan."


def test_choices_for_a_plan(plan: ActivityPlan) -> None:
    choices = segment_choices(plan)
    assert [segment.code for segment, _ in choices] == [
        "confirmed",
        "waitlisted",
        "present:1",
        "present:2",
        "present:3",
        "absent:1",
        "absent:2",
        "absent:3",
        "unanswered:s1",
        "unanswered:s2",
        "unanswered:s3",
        "unanswered:final",
        "unanswered:follow-up",
    ]
    assert choices[-3][1] == "Har inte svarat på enkäten efter träff 3"
    assert segment_choices(plan.lifecycle()) == choices


def test_survey_names_are_the_schedules(plan: ActivityPlan) -> None:
    surveys = [s.survey for s, _ in segment_choices(plan) if s.kind is SegmentKind.UNANSWERED]
    assert surveys[:3] == [session_survey(no) for no in (1, 2, 3)]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "present"},
        {"kind": "absent", "session_no": 0},
        {"kind": "present", "session_no": 1, "survey": "s1"},
        {"kind": "unanswered"},
        {"kind": "unanswered", "survey": "s1", "session_no": 1},
        {"kind": "unanswered", "survey": "nothing"},
        {"kind": "confirmed", "session_no": 1},
        {"kind": "waitlisted", "survey": "final"},
    ],
)
def test_a_segment_has_the_shape_its_kind_needs(fields: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Segment.model_validate(fields)


def test_one_session(plan: ActivityPlan) -> None:
    single = plan.model_copy(update={"sessions": plan.sessions[:1]})
    with pytest.raises(SegmentError, match="Den har en träff."):
        parse_segment("present:2", single)
    assert len(segment_choices(single)) == 2 + 2 + 3


EXAMPLE = load_plan(str(Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"))


# -- any text --------------------------------------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=50)
    | st.builds(
        lambda kind, sep, arg: kind + sep + arg,
        st.sampled_from([k.value for k in SegmentKind] + ["", "x"]),
        st.sampled_from([":", "", "::"]),
        st.text("0123456789sfinalow-up ", max_size=6),
    )
)
def test_any_text_is_a_choice_or_refused(text: str) -> None:
    choices = dict(segment_choices(EXAMPLE))
    try:
        segment = parse_segment(text, EXAMPLE)
    except SegmentError as error:
        assert error.text.endswith(".")
        return
    assert segment in choices
    assert segment.code == text.strip()


def test_every_choice_reads_back_and_labels_differ(plan: ActivityPlan) -> None:
    choices = segment_choices(plan)
    assert all(parse_segment(segment.code, plan) == segment for segment, _ in choices)
    assert len({label for _, label in choices}) == len(choices)
