"""Who a coordinator's message goes to: a segment of an activity's people, named by a short code.

    confirmed            the confirmed participants
    waitlisted           the waiting list
    present:2            those present at session 2
    absent:1             those confirmed but absent from session 1
    unanswered:s1        those who have not answered the survey after session 1 (also: final, follow-up)

Codes are parsed, not pattern-matched, after a length check; a session or survey the plan does not have is refused
with a Swedish sentence. Survey names are `domain.schedule`'s (`session_survey`, `FINAL`, `FOLLOW_UP`).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator

from domain.lifecycle import LifecyclePlan
from domain.plan import ActivityPlan
from domain.schedule import FINAL, FOLLOW_UP, session_survey

MAX_SEGMENT_TEXT = 40  # longer than any code: refused before it is looked at
MAX_SESSION_DIGITS = 3  # a plan has at most 50 sessions
SEPARATOR = ":"


class SegmentKind(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    PRESENT = "present"
    ABSENT = "absent"
    UNANSWERED = "unanswered"


BY_SESSION = (SegmentKind.PRESENT, SegmentKind.ABSENT)


class SegmentError(ValueError):
    """A code that names no segment of the plan; `text` says why, in Swedish, for the coordinator."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class Segment(BaseModel):
    """A segment: `session_no` for present and absent, `survey` for unanswered, neither for the others."""

    model_config = ConfigDict(frozen=True)

    kind: SegmentKind
    session_no: int | None = None
    survey: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Segment:
        if self.kind in BY_SESSION:
            if self.session_no is None or self.session_no < 1 or self.survey is not None:
                raise ValueError(f"{self.kind.value} needs a session number (1 or more) and no survey")
        elif self.kind is SegmentKind.UNANSWERED:
            if self.survey is None or _survey_kind(self.survey) is None or self.session_no is not None:
                raise ValueError("unanswered needs a survey ('s1', 'final', 'follow-up') and no session number")
        elif self.session_no is not None or self.survey is not None:
            raise ValueError(f"{self.kind.value} takes no session number and no survey")
        return self

    @property
    def code(self) -> str:
        """'confirmed', 'present:2', 'unanswered:final': what `parse_segment` reads back."""
        if self.kind in BY_SESSION:
            return f"{self.kind.value}{SEPARATOR}{self.session_no}"
        if self.kind is SegmentKind.UNANSWERED:
            return f"{self.kind.value}{SEPARATOR}{self.survey}"
        return self.kind.value


Plan = ActivityPlan | LifecyclePlan

CHOOSE = "Välj vilka meddelandet ska gå till i listan."


def parse_segment(text: str, plan: Plan) -> Segment:
    """The segment `text` names, or `SegmentError` with a Swedish sentence."""
    if not isinstance(text, str) or len(text) > MAX_SEGMENT_TEXT:
        raise SegmentError(CHOOSE)
    name, separator, argument = text.strip().partition(SEPARATOR)
    try:
        kind = SegmentKind(name)
    except ValueError:
        raise SegmentError(CHOOSE) from None
    if kind in BY_SESSION:
        no = _session_no(argument)
        if no is None:
            raise SegmentError(CHOOSE)
        sessions = _session_numbers(plan)
        if no not in sessions:
            raise SegmentError(f"Aktiviteten har ingen träff {no}. {_sessions_text(len(sessions))}")
        return Segment(kind=kind, session_no=no)
    if kind is SegmentKind.UNANSWERED:
        if argument not in _surveys(plan):
            raise SegmentError(_no_such_survey(argument, plan))
        return Segment(kind=kind, survey=argument)
    if separator:
        raise SegmentError(CHOOSE)
    return Segment(kind=kind)


def segment_label(segment: Segment) -> str:
    """What the coordinator reads: 'Bekräftade', 'Närvarande vid träff 2', 'Har inte svarat på slututvärderingen'."""
    if segment.kind is SegmentKind.CONFIRMED:
        return "Bekräftade"
    if segment.kind is SegmentKind.WAITLISTED:
        return "Reservlistan"
    if segment.kind is SegmentKind.PRESENT:
        return f"Närvarande vid träff {segment.session_no}"
    if segment.kind is SegmentKind.ABSENT:
        return f"Frånvarande vid träff {segment.session_no}"
    survey = segment.survey or ""
    if survey == FINAL:
        return "Har inte svarat på slututvärderingen"
    if survey == FOLLOW_UP:
        return "Har inte svarat på uppföljningen"
    return f"Har inte svarat på enkäten efter träff {_survey_kind(survey)}"


def segment_choices(plan: Plan) -> list[tuple[Segment, str]]:
    """Every segment the plan allows, with its label: the confirmed, the waiting list, those present and absent at
    each session, those who have not answered each survey (the sessions' in order, the final evaluation, the
    follow-up)."""
    sessions = _session_numbers(plan)
    segments = [Segment(kind=SegmentKind.CONFIRMED), Segment(kind=SegmentKind.WAITLISTED)]
    segments += [Segment(kind=SegmentKind.PRESENT, session_no=no) for no in sessions]
    segments += [Segment(kind=SegmentKind.ABSENT, session_no=no) for no in sessions]
    segments += [Segment(kind=SegmentKind.UNANSWERED, survey=survey) for survey in _surveys(plan)]
    return [(segment, segment_label(segment)) for segment in segments]


def _session_numbers(plan: Plan) -> list[int]:
    if isinstance(plan, LifecyclePlan):
        return [s.no for s in plan.sessions]
    return list(range(1, len(plan.sessions) + 1))  # as `ActivityPlan.lifecycle` numbers them


def _surveys(plan: Plan) -> list[str]:
    return [session_survey(no) for no in _session_numbers(plan)] + [FINAL, FOLLOW_UP]


def _session_no(text: str) -> int | None:
    """A session number as a code writes it: ASCII digits, no leading zero."""
    if not text or len(text) > MAX_SESSION_DIGITS or text.startswith("0"):
        return None
    if any(char not in "0123456789" for char in text):
        return None
    return int(text)


def _survey_kind(survey: str) -> int | str | None:
    """FINAL or FOLLOW_UP as they are, a session's survey as its session number, None for anything else."""
    if survey in (FINAL, FOLLOW_UP):
        return survey
    if survey.startswith("s"):
        return _session_no(survey.removeprefix("s"))
    return None


def _sessions_text(count: int) -> str:
    return "Den har en träff." if count == 1 else f"Den har {count} träffar."


def _no_such_survey(survey: str, plan: Plan) -> str:
    no = _survey_kind(survey)
    if isinstance(no, int):
        sessions = _sessions_text(len(_session_numbers(plan)))
        return f"Aktiviteten har ingen träff {no}, och därför ingen enkät efter den. {sessions}"
    return "Välj en av aktivitetens enkäter i listan."
