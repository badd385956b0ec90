"""The activity plan a coordinator writes (YAML), and its validation.

`load_plan` returns a valid `ActivityPlan` or raises `PlanError` naming every
problem by its field. `ActivityPlan.lifecycle()` is the part the workflow
sees: ids, times and counts, no personal data (no organiser e-mail, no rooms).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from types import SimpleNamespace
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from domain.action_plan import LINE_ID, ActionPlan
from domain.control_characters import CONTROL
from domain.durations import Duration
from domain.email_address import parse_organiser_email
from domain.lifecycle import LifecyclePlan, Location, SessionTimes
from domain.plan_source import MAX_PLAN_BYTES, SourceError, clip, load_yaml, shown
from domain.reference import ReferenceData

ACTIVITY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: a carriage
# return in a title once broke the invitation's Subject header.
_CONTROL = CONTROL
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # newline and tab allowed
_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _control_found(found: re.Match[str]) -> str:
    return f"U+{ord(found.group()):04X} at position {found.start() + 1}"


def _one_line(value: str) -> str:
    if found := _CONTROL.search(value):
        raise ValueError(f"must be one line without control characters (found {_control_found(found)})")
    return value


def _text(value: str) -> str:
    if found := _CONTROL_IN_TEXT.search(value):
        raise ValueError(
            f"must not contain control characters other than newline and tab (found {_control_found(found)})"
        )
    return value


def _http_link(value: str) -> str:
    """An http(s) URL, kept as the text written (plans already stored hold strings); empty is no link."""
    if not value:
        return value
    if any(char.isspace() for char in value):
        raise ValueError("must be an http(s) URL without spaces")
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError("must be an http(s) URL, e.g. https://miun.se/zoom/123") from None
    return value


# Single lines of text: the length is checked first, then no control characters.
Title = Annotated[str, StringConstraints(min_length=3, max_length=200), AfterValidator(_one_line)]
FocusArea = Annotated[str, StringConstraints(min_length=2, max_length=100), AfterValidator(_one_line)]
TargetGroup = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_one_line)]
OrganisationId = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_one_line)]
Room = Annotated[str, StringConstraints(max_length=200), AfterValidator(_one_line)]
SessionTitle = Annotated[str, StringConstraints(max_length=200), AfterValidator(_one_line)]
Description = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_text)]
Link = Annotated[str, StringConstraints(max_length=500), AfterValidator(_one_line), AfterValidator(_http_link)]
Email = Annotated[str, AfterValidator(parse_organiser_email)]  # InvalidEmail is a ValueError; length checked first


class ActivityFormat(StrEnum):
    COURSE = "course"
    SEMINAR_SERIES = "seminar_series"
    NETWORK_MEETING = "network_meeting"
    WEBINAR = "webinar"
    CONFERENCE = "conference"
    THEME_DAY = "theme_day"
    SUPERVISOR_TRAINING = "supervisor_training"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionPlan(_Strict):
    start: AwareDatetime
    end: AwareDatetime
    location: Location
    room: Room | None = None
    link: Link | None = None
    title: SessionTitle | None = None


class Teams(_Strict):
    allowed: bool = False
    min_size: int = Field(5, ge=1)
    max_size: int = Field(12, ge=1)


class Registration(_Strict):
    opens: AwareDatetime
    deadline: AwareDatetime
    reminders_before_deadline: Annotated[list[Duration], Field(max_length=20)] = []


class Surveys(_Strict):
    window: Duration = timedelta(days=14)
    reminder_after: Duration = timedelta(days=7)
    attendance_grace: Duration = timedelta(days=1)
    final_evaluation_after: Duration = timedelta(days=1)
    follow_up_after: Duration = timedelta(days=90)
    # Free-text answers can hold names and addresses people typed: erased with the rest at anonymisation
    # (scale answers and counts stay), unless the plan keeps them.
    keep_free_text: bool = False


class Invitation(_Strict):
    organisations: Annotated[list[OrganisationId], Field(min_length=1, max_length=200)] = ["all"]


class ActivityPlan(_Strict):
    id: str
    title: Title
    description: Description = ""
    focus_area: FocusArea
    target_groups: Annotated[list[TargetGroup], Field(min_length=1, max_length=50)]
    format: ActivityFormat
    organiser_email: Email
    places: Annotated[int, Field(ge=1, le=10000)]
    min_participants: Annotated[int, Field(ge=0)]
    teams: Teams = Teams()
    registration: Registration
    grace_period: Duration = timedelta(days=3)
    sessions: Annotated[list[SessionPlan], Field(min_length=1, max_length=50)]
    session_reminder_before: Duration = timedelta(days=2)
    surveys: Surveys = Surveys()
    retention: Duration = timedelta(days=365)
    invitation: Invitation = Invitation()
    # The line of the year's action plan the activity belongs to (`domain.action_plan`), None when it is outside the
    # plan. Not part of `lifecycle()`: the workflow never sees it.
    action_plan_line: str | None = None

    @field_validator("action_plan_line")
    @classmethod
    def _line_is_slug(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 64 or not LINE_ID.match(value)):
            raise ValueError("must be an action plan line id: 2-64 lowercase letters, digits or dashes")
        return value

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        if not ACTIVITY_ID.match(value):
            raise ValueError("must be 3-64 lowercase letters, digits or dashes, e.g. 'lasa-skriva-ht27'")
        return value

    def invited_organisations(self, known: set[str]) -> list[str]:
        if "all" in self.invitation.organisations:
            return sorted(known)
        return list(dict.fromkeys(self.invitation.organisations))

    def lifecycle(self, version: int = 1) -> LifecyclePlan:
        return LifecyclePlan(
            activity_id=self.id,
            version=version,
            title=self.title,
            focus_area=self.focus_area,
            places=self.places,
            min_participants=self.min_participants,
            teams_allowed=self.teams.allowed,
            team_min=self.teams.min_size,
            team_max=self.teams.max_size,
            opens=self.registration.opens,
            deadline=self.registration.deadline,
            reminders_before_deadline=list(self.registration.reminders_before_deadline),
            grace_period=self.grace_period,
            sessions=[
                SessionTimes(no=i, start=s.start, end=s.end, location=s.location)
                for i, s in enumerate(self.sessions, start=1)
            ],
            session_reminder_before=self.session_reminder_before,
            survey_window=self.surveys.window,
            survey_reminder_after=self.surveys.reminder_after,
            attendance_grace=self.surveys.attendance_grace,
            final_evaluation_after=self.surveys.final_evaluation_after,
            follow_up_after=self.surveys.follow_up_after,
            retention=self.retention,
        )


class Problem(BaseModel):
    """A plan problem: the field, what is wrong (English, for logs and the CLI), and for the cross-field rules a
    `code` with the numbers in `details`, by which the back-office looks up its Swedish sentence."""

    field: str
    message: str
    code: str = ""
    details: dict[str, Any] = {}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class PlanError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def plan_problems(plan: Any, reference: ReferenceData | None = None) -> list[Problem]:
    """Cross-field rules that a single field cannot check.

    `plan` is an ActivityPlan, or a namespace of the fields that validated on
    their own (the others are None): rules run wherever their fields are valid.
    """
    problems: list[Problem] = []

    def add(field: str, message: str, code: str = "", **details: Any) -> None:
        problems.append(Problem(field=field, message=message, code=code, details=details))

    def has(*names: str) -> bool:
        return all(getattr(plan, name, None) is not None for name in names)

    if has("min_participants", "places") and plan.min_participants > plan.places:
        add(
            "min_participants",
            f"{plan.min_participants} is above the {plan.places} places",
            "min_above_places",
            min=plan.min_participants,
            places=plan.places,
        )
    if has("teams", "places") and plan.teams.allowed:
        if plan.teams.min_size > plan.teams.max_size:
            add(
                "teams.min_size",
                f"{plan.teams.min_size} is above teams.max_size {plan.teams.max_size}",
                "team_min_above_max",
                max=plan.teams.max_size,
            )
        if plan.teams.max_size > plan.places:
            add(
                "teams.max_size",
                f"{plan.teams.max_size} is above the {plan.places} places",
                "team_above_places",
                places=plan.places,
            )
    if has("registration"):
        _registration_problems(plan.registration, add)
    if has("registration", "sessions") and plan.registration.deadline > plan.sessions[0].start:
        add("registration.deadline", "is after the first session starts", "deadline_after_first_session")
    if has("sessions"):
        _session_problems(plan.sessions, add)
    if has("surveys"):
        _survey_problems(plan.surveys, add)
    if reference is not None:
        _reference_problems(plan, reference, add)
    return problems


AddProblem = Callable[..., None]  # add(field, message, code, **details)


def _registration_problems(reg: Registration, add: AddProblem) -> None:
    if reg.opens >= reg.deadline:
        add("registration.deadline", "must be after registration.opens", "deadline_before_opens")
    for i, offset in enumerate(reg.reminders_before_deadline):
        if offset <= timedelta(0):
            add(f"registration.reminders_before_deadline[{i}]", "must be longer than zero", "reminder_not_positive")
        elif reg.deadline - offset < reg.opens:
            add(
                f"registration.reminders_before_deadline[{i}]",
                "falls before registration opens",
                "reminder_before_opens",
            )


def _session_problems(sessions: list[SessionPlan], add: AddProblem) -> None:
    for i, session in enumerate(sessions):
        field = f"sessions[{i}]"
        if session.end <= session.start:
            add(f"{field}.end", "must be after its start", "session_ends_before_start")
        if session.location is Location.DIGITAL and not session.link:
            add(f"{field}.link", "a digital session needs a link", "digital_without_link")
        if i > 0:
            previous = sessions[i - 1]
            if session.start < previous.start:
                add(
                    f"{field}.start",
                    f"sessions are out of order: starts before sessions[{i - 1}]",
                    "sessions_out_of_order",
                    before=i,
                )
            elif session.start < previous.end:
                add(
                    f"{field}.start",
                    f"overlaps sessions[{i - 1}], which ends {previous.end.isoformat()}",
                    "session_overlaps",
                    before=i,
                )


def _survey_problems(surveys: Surveys, add: AddProblem) -> None:
    if surveys.window <= timedelta(0):
        add("surveys.window", "must be longer than zero", "survey_window_not_positive")
    elif surveys.reminder_after >= surveys.window:
        add("surveys.reminder_after", "must be shorter than surveys.window", "survey_reminder_too_late")
    if surveys.follow_up_after <= surveys.final_evaluation_after:
        add("surveys.follow_up_after", "must be after surveys.final_evaluation_after", "follow_up_before_final")


def _reference_problems(plan: Any, reference: ReferenceData, add: AddProblem) -> None:
    if getattr(plan, "invitation", None) is not None:
        known = reference.organisation_ids
        for i, org in enumerate(plan.invitation.organisations):
            if org != "all" and org not in known:
                add(f"invitation.organisations[{i}]", f"unknown organisation {shown(org)}", "unknown_organisation")
    if getattr(plan, "target_groups", None) is not None:
        groups = set(reference.target_groups)
        for i, group in enumerate(plan.target_groups):
            if group not in groups:
                add(
                    f"target_groups[{i}]",
                    f"unknown target group {shown(group)} (known: {', '.join(sorted(groups))})",
                    "unknown_target_group",
                    known=", ".join(sorted(groups)),
                )


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else clip(str(part))  # a key may be anything a user typed
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "plan"


def _valid_fields(data: dict[str, Any]) -> SimpleNamespace:
    """Each top-level field validated on its own; None where it is invalid or missing."""
    values = {}
    for name, field in ActivityPlan.model_fields.items():
        if name not in data:
            values[name] = None if field.is_required() else field.get_default(call_default_factory=True)
            continue
        try:
            kind: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            values[name] = TypeAdapter(kind).validate_python(data[name])
        except ValidationError:
            values[name] = None
    return SimpleNamespace(**values)


def parse_plan(data: Any, reference: ReferenceData | None = None) -> ActivityPlan:
    if not isinstance(data, dict):
        raise PlanError([Problem(field="plan", message="must be a mapping of fields (YAML)")])
    try:
        plan = ActivityPlan.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(field=_location(e["loc"]), message=e["msg"].removeprefix("Value error, ")) for e in exc.errors()
        ]
        named = {p.field for p in problems}
        problems += [p for p in plan_problems(_valid_fields(data), reference) if p.field not in named]
        raise PlanError(problems) from None
    problems = plan_problems(plan, reference)
    if problems:
        raise PlanError(problems)
    return plan


def parse_plan_text(text: str, reference: ReferenceData | None = None) -> ActivityPlan:
    """A plan from YAML (JSON is YAML too), measured before it is parsed: see `domain.plan_source`."""
    try:
        data = load_yaml(text)
    except SourceError as exc:
        raise PlanError([Problem(field="plan", message=str(exc))]) from None
    return parse_plan(data, reference)


def load_plan(path: str, reference: ReferenceData | None = None) -> ActivityPlan:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_PLAN_BYTES + 1)  # enough to know it is too large
    except OSError as exc:
        raise PlanError([Problem(field="plan", message=f"cannot read {path}: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise PlanError([Problem(field="plan", message=f"cannot read {path}: not UTF-8 text")]) from None
    return parse_plan_text(text, reference)


def shift_plan(plan: ActivityPlan, delta: timedelta) -> ActivityPlan:
    """The same plan moved in time by `delta` (used by the demo and tests)."""
    data = plan.model_dump()
    data["registration"]["opens"] += delta
    data["registration"]["deadline"] += delta
    for session in data["sessions"]:
        session["start"] += delta
        session["end"] += delta
    return ActivityPlan.model_validate(data)


def first_start(plan: ActivityPlan) -> datetime:
    return plan.sessions[0].start


def plan_year(plan: ActivityPlan) -> int:
    """The year the activity belongs to: that of its first session, in Swedish time (whose action plan it is in)."""
    return plan.sessions[0].start.astimezone(ZoneInfo("Europe/Stockholm")).year


def action_plan_line_problems(plan: ActivityPlan, action_plan: ActionPlan | None) -> list[Problem]:
    """The plan's `action_plan_line` checked against the action plan of its year (`plan_year`): a line that plan
    does not have is a problem (`unknown_action_plan_line`). No line, or no action plan stored for the year: none."""
    line = plan.action_plan_line
    if line is None or action_plan is None or line in action_plan.line_ids:
        return []
    return [
        Problem(
            field="action_plan_line",
            message=f"the action plan for {action_plan.year} has no line {shown(line)}",
            code="unknown_action_plan_line",
            details={"year": action_plan.year, "line": line},
        )
    ]
