"""The activity form: every field of a plan as a coordinator types it, and back again.

`PlanForm` holds what was typed (strings, so a refused form comes back exactly as it was sent, clipped to each
field's length). `PlanForm.to_data` turns it into the plan's data for `plan_check.check_plan`: every field is
measured first (`FIELDS`: at most so many characters, no control characters), then read (times typed in
Swedish local time with `domain.local_time`, durations in Swedish words or as the plan writes them); a field
refused here is left out of the data, and the model's own problem for it is not shown on top of the first.

Sessions are added and removed by the form's own submit buttons (no JavaScript); their fields are named
`sessions-<index>-<part>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.backoffice.plan_check import label
from domain.control_characters import control_character
from domain.durations import format_duration
from domain.email_address import MAX_EMAIL_LENGTH
from domain.local_time import BadLocalTime, parse_local_time
from domain.plan import ACTIVITY_ID, ActivityPlan, Surveys, Teams
from domain.texts import STOCKHOLM

MAX_SESSIONS = 50  # ActivityPlan.sessions' max_length
MAX_REMINDERS = 20  # Registration.reminders_before_deadline's max_length
MAX_TARGET_GROUPS = 50
MAX_ORGANISATIONS = 200
MAX_CHOICE = 100  # one ticked box's value
RESERVED_IDS = {"new", "upload"}  # /admin/activities/new and /upload are pages, not activities


@dataclass(frozen=True)
class Field:
    path: str  # the plan's field path
    kind: str  # line, text, int, datetime, duration, durations, flag, choice
    limit: int  # characters, measured before anything is parsed


FIELDS: dict[str, Field] = {
    "id": Field("id", "line", 64),
    "title": Field("title", "line", 200),
    "description": Field("description", "text", 5000),
    "format": Field("format", "choice", 40),
    "focus_area": Field("focus_area", "choice", 100),
    "action_plan_line": Field("action_plan_line", "choice", 64),
    "organiser_email": Field("organiser_email", "line", MAX_EMAIL_LENGTH),
    "places": Field("places", "int", 6),
    "min_participants": Field("min_participants", "int", 6),
    "teams_allowed": Field("teams.allowed", "flag", 10),
    "teams_min_size": Field("teams.min_size", "int", 6),
    "teams_max_size": Field("teams.max_size", "int", 6),
    "registration_opens": Field("registration.opens", "datetime", 40),
    "registration_deadline": Field("registration.deadline", "datetime", 40),
    "registration_reminders": Field("registration.reminders_before_deadline", "durations", 1000),
    "grace_period": Field("grace_period", "duration", 40),
    "session_reminder_before": Field("session_reminder_before", "duration", 40),
    "surveys_window": Field("surveys.window", "duration", 40),
    "surveys_reminder_after": Field("surveys.reminder_after", "duration", 40),
    "surveys_attendance_grace": Field("surveys.attendance_grace", "duration", 40),
    "surveys_final_evaluation_after": Field("surveys.final_evaluation_after", "duration", 40),
    "surveys_follow_up_after": Field("surveys.follow_up_after", "duration", 40),
    "keep_free_text": Field("surveys.keep_free_text", "flag", 10),
    "retention": Field("retention", "duration", 40),
    "invite": Field("invitation", "choice", 10),
}
SESSION_FIELDS: dict[str, Field] = {
    "start": Field("start", "datetime", 40),
    "end": Field("end", "datetime", 40),
    "location": Field("location", "choice", 20),
    "room": Field("room", "line", 200),
    "link": Field("link", "line", 500),
    "title": Field("title", "line", 200),
}
LIST_FIELDS = {
    "target_groups": ("target_groups", MAX_TARGET_GROUPS),
    "organisations": ("invitation", MAX_ORGANISATIONS),
}
PARENTS = {"teams": "teams_allowed", "registration": "registration_opens", "surveys": "surveys_window"}
_SESSION_KEY = re.compile(r"^sessions-(\d{1,2})-([a-z]+)$")
_SESSION_PATH = re.compile(r"^sessions\[(\d+)\](?:\.([a-z_]+))?")

# -- durations in Swedish ---------------------------------------------------
_UNITS = {
    "s": "s",
    "sek": "s",
    "sekund": "s",
    "sekunder": "s",
    "m": "m",
    "min": "m",
    "minut": "m",
    "minuter": "m",
    "h": "h",
    "t": "h",
    "tim": "h",
    "timme": "h",
    "timmar": "h",
    "d": "d",
    "dag": "d",
    "dagar": "d",
    "dygn": "d",
    "w": "w",
    "v": "w",
    "vecka": "w",
    "veckor": "w",
}
_WORDS = {
    "s": ("sekund", "sekunder"),
    "m": ("minut", "minuter"),
    "h": ("timme", "timmar"),
    "d": ("dag", "dagar"),
    "w": ("vecka", "veckor"),
}
_SHORT_DURATION = re.compile(r"^(\d+)([smhdw])$")


def duration_value(text: str) -> str:
    """'14 dagar' -> '14d' (the plan's short form); anything else as typed, for the plan model to judge.

    Read piece by piece (the field's length was checked first): up to 7 ASCII digits, spaces, a unit word and an
    optional full stop."""
    typed = text.strip()
    digits = len(typed) - len(typed.lstrip("0123456789"))
    number, unit = typed[:digits], typed[digits:].strip().removesuffix(".").lower()
    if 1 <= len(number) <= 7 and unit in _UNITS:
        return f"{int(number)}{_UNITS[unit]}"
    return typed


def duration_text(value: timedelta) -> str:
    """timedelta(days=14) -> '14 dagar'; a duration the short form cannot say exactly stays ISO-8601."""
    short = format_duration(value)
    found = _SHORT_DURATION.match(short)
    if found is None:
        return short
    n, unit = int(found.group(1)), found.group(2)
    one, many = _WORDS[unit]
    return f"{n} {one if n == 1 else many}"


def reminder_texts(text: str) -> list[str]:
    """'14 dagar, 5 dagar' (commas, semicolons or 'och' between) -> ['14 dagar', '5 dagar']."""
    parts = text.replace(";", ",").split(",")
    return [word.strip() for part in parts for word in f" {part} ".split(" och ") if word.strip()]


# -- times --------------------------------------------------------------
def local_value(at: datetime, weeks: int = 0) -> str:
    """A datetime-local input's value in Swedish time ('2027-09-23T09:00'), `weeks` later on the clock on the wall
    (09:00 stays 09:00 across a change to or from summer time)."""
    wall = at.astimezone(STOCKHOLM).replace(tzinfo=None) + timedelta(weeks=weeks)
    return wall.strftime("%Y-%m-%dT%H:%M:%S" if wall.second else "%Y-%m-%dT%H:%M")


def _number(n: int) -> str:
    return f"{n:,}".replace(",", "\u00a0")  # 10 000


def too_long_text(limit: int, length: int) -> str:
    return f"Högst {_number(limit)} tecken (du skrev {_number(length)})."


def control_text(position: int, multiline: bool) -> str:
    if multiline:
        return f"Texten har ett otillåtet osynligt styrtecken (tecken nummer {position}). Ta bort det."
    return (
        f"Texten har ett otillåtet tecken: ett osynligt styrtecken eller en radbrytning (tecken nummer {position}). "
        "Skriv den på en rad."
    )


def spec(key: str) -> Field | None:
    if key in FIELDS:
        return FIELDS[key]
    found = _SESSION_KEY.match(key)
    return SESSION_FIELDS.get(found.group(2)) if found else None


def session_key(index: int, part: str) -> str:
    return f"sessions-{index}-{part}"


def form_key(path: str) -> str:
    """The form field a plan field path belongs to ('sessions[1].end' -> 'sessions-1-end'); '' for the whole plan."""
    if found := _SESSION_PATH.match(path):
        index, part = int(found.group(1)), found.group(2)
        return session_key(index, part if part in SESSION_FIELDS else "start")
    if path == "sessions":
        return "sessions"
    head = path.split("[")[0]
    if head == "target_groups":
        return "target_groups"
    if head.startswith("invitation"):
        return "organisations"
    if head.startswith("registration.reminders_before_deadline"):
        return "registration_reminders"
    if head == "surveys.keep_free_text":
        return "keep_free_text"
    key = head.replace(".", "_")
    if key in FIELDS:
        return key
    return PARENTS.get(head.split(".")[0], "")


def anchor(key: str) -> str:
    """The element an error summary's link goes to: the field, a group's first box, the sessions' heading."""
    if key in ("target_groups", "organisations"):
        return f"{key}-0"
    if key == "invite":
        return "invite-all"
    if key == "sessions":
        return "traffar"
    return key


def key_label(key: str) -> str:
    """The Swedish name of a form field, as the error summary says it."""
    if found := _SESSION_KEY.match(key):
        return label(f"sessions[{found.group(1)}].{found.group(2)}")
    if key in LIST_FIELDS:
        return label(LIST_FIELDS[key][0] + (".organisations" if key == "organisations" else ""))
    if key == "sessions":
        return label("sessions")
    field_spec = FIELDS.get(key)
    return label(field_spec.path) if field_spec else "Formuläret"


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        _put(data.setdefault(head, {}), rest, value)
    else:
        data[head] = value


def _defaults() -> dict[str, str]:
    fields = ActivityPlan.model_fields
    surveys, teams = Surveys(), Teams()
    return {
        "teams_min_size": str(teams.min_size),
        "teams_max_size": str(teams.max_size),
        "grace_period": duration_text(fields["grace_period"].default),
        "session_reminder_before": duration_text(fields["session_reminder_before"].default),
        "surveys_window": duration_text(surveys.window),
        "surveys_reminder_after": duration_text(surveys.reminder_after),
        "surveys_attendance_grace": duration_text(surveys.attendance_grace),
        "surveys_final_evaluation_after": duration_text(surveys.final_evaluation_after),
        "surveys_follow_up_after": duration_text(surveys.follow_up_after),
        "retention": duration_text(fields["retention"].default),
        "invite": "all",
    }


DURATION_EXAMPLES = {key: value for key, value in _defaults().items() if FIELDS[key].kind == "duration"}


def empty_session(location: str = "") -> dict[str, str]:
    return {part: "" for part in SESSION_FIELDS} | {"location": location}


@dataclass
class PlanForm:
    values: dict[str, str] = field(default_factory=dict)
    target_groups: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    sessions: list[dict[str, str]] = field(default_factory=list)
    too_long: dict[str, int] = field(default_factory=dict)  # field -> the length sent, beyond its limit

    @classmethod
    def blank(cls) -> PlanForm:
        return cls(values=_defaults(), sessions=[empty_session()])

    @classmethod
    def from_plan(cls, plan: ActivityPlan, *, dates: bool = True, weeks: int = 0) -> PlanForm:
        """The form filled in from a plan; without `dates` every date and time is left empty, with `weeks` they
        are moved that many weeks on."""

        def at(value: datetime) -> str:
            return local_value(value, weeks) if dates else ""

        invited = plan.invitation.organisations
        values = {
            "id": plan.id,
            "title": plan.title,
            "description": plan.description,
            "format": plan.format.value,
            "focus_area": plan.focus_area,
            "action_plan_line": plan.action_plan_line or "",
            "organiser_email": plan.organiser_email,
            "places": str(plan.places),
            "min_participants": str(plan.min_participants),
            "teams_allowed": "ja" if plan.teams.allowed else "",
            "teams_min_size": str(plan.teams.min_size),
            "teams_max_size": str(plan.teams.max_size),
            "registration_opens": at(plan.registration.opens),
            "registration_deadline": at(plan.registration.deadline),
            "registration_reminders": ", ".join(duration_text(d) for d in plan.registration.reminders_before_deadline),
            "grace_period": duration_text(plan.grace_period),
            "session_reminder_before": duration_text(plan.session_reminder_before),
            "surveys_window": duration_text(plan.surveys.window),
            "surveys_reminder_after": duration_text(plan.surveys.reminder_after),
            "surveys_attendance_grace": duration_text(plan.surveys.attendance_grace),
            "surveys_final_evaluation_after": duration_text(plan.surveys.final_evaluation_after),
            "surveys_follow_up_after": duration_text(plan.surveys.follow_up_after),
            "keep_free_text": "ja" if plan.surveys.keep_free_text else "",
            "retention": duration_text(plan.retention),
            "invite": "all" if "all" in invited else "chosen",
        }
        sessions = [
            {
                "start": at(s.start),
                "end": at(s.end),
                "location": s.location.value,
                "room": s.room or "",
                "link": s.link or "",
                "title": s.title or "",
            }
            for s in plan.sessions
        ]
        organisations = [] if "all" in invited else list(invited)
        return cls(values, list(plan.target_groups), organisations, sessions)

    @classmethod
    def from_post(cls, single: dict[str, str], lists: dict[str, list[str]]) -> PlanForm:
        """What was posted, each field clipped to its limit (the length sent is kept to say so)."""
        form = cls()
        for key, field_spec in FIELDS.items():
            form._take(key, single.get(key, ""), field_spec.limit)
        for index in range(MAX_SESSIONS):
            if session_key(index, "start") not in single:
                break
            for part, field_spec in SESSION_FIELDS.items():
                key = session_key(index, part)
                form._take(key, single.get(key, ""), field_spec.limit)
            form.sessions.append({part: form.values.pop(session_key(index, part)) for part in SESSION_FIELDS})
        for key, (_, most) in LIST_FIELDS.items():
            chosen = lists.get(key, [])
            if len(chosen) > most:
                form.too_long[key] = len(chosen)
            setattr(form, key, list(dict.fromkeys(v[: MAX_CHOICE + 1] for v in chosen[:most])))
        return form

    def _take(self, key: str, value: str, limit: int) -> None:
        if len(value) > limit:
            self.too_long[key] = len(value)
            value = value[:limit]
        self.values[key] = value

    def session_value(self, index: int, part: str) -> str:
        return self.sessions[index].get(part, "")

    def add_session(self) -> bool:
        """One more empty session (at the place of the last one); False when there are as many as a plan can have."""
        if len(self.sessions) >= MAX_SESSIONS:
            return False
        self.sessions.append(empty_session(self.sessions[-1]["location"] if self.sessions else ""))
        return True

    def remove_session(self, index: int) -> bool:
        if 0 <= index < len(self.sessions):
            del self.sessions[index]
            return True
        return False

    # -- to the plan's data ---------------------------------------------------
    def to_data(self, fixed_id: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """The plan's data, and the problems found before the plan model is asked (by form field)."""
        errors: dict[str, str] = {}
        data: dict[str, Any] = {}

        def text(key: str, value: str | None = None) -> str | None:
            """The field's text, ready for the model; None when empty or refused here."""
            field_spec = spec(key)
            assert field_spec is not None
            if key in self.too_long:
                errors[key] = too_long_text(field_spec.limit, self.too_long[key])
                return None
            raw = self.values.get(key, "") if value is None else value
            multiline = field_spec.kind == "text"
            if multiline:
                raw = raw.replace("\r\n", "\n").replace("\r", "\n")
            raw = raw.strip()
            if found := control_character(raw, multiline):
                errors[key] = control_text(found.start() + 1, multiline)
                return None
            return raw or None

        def time(key: str, value: str | None = None) -> datetime | None:
            typed = text(key, value)
            if typed is None:
                return None
            try:
                return parse_local_time(typed)
            except BadLocalTime as exc:
                errors[key] = str(exc)
                return None

        if fixed_id is not None:
            data["id"] = fixed_id
        elif (typed_id := text("id")) is not None:
            data["id"] = typed_id
            if typed_id in RESERVED_IDS and ACTIVITY_ID.match(typed_id):
                errors["id"] = f"”{typed_id}” är upptaget av administrationen. Välj ett annat kortnamn."
        for key in ("title", "format", "focus_area", "organiser_email", "places", "min_participants"):
            if (value := text(key)) is not None:
                data[FIELDS[key].path] = value
        data["action_plan_line"] = text("action_plan_line")  # None: outside the action plan
        description = text("description")
        if "description" not in errors:
            data["description"] = description or ""
        allowed = bool(self.values.get("teams_allowed"))
        data["teams"] = {"allowed": allowed}
        for key in ("teams_min_size", "teams_max_size"):
            if (value := text(key)) is not None:
                _put(data, FIELDS[key].path, value)
            elif allowed and key not in errors:
                errors[key] = "Skriv ett antal deltagare."
        registration: dict[str, Any] = {}
        for key in ("registration_opens", "registration_deadline"):
            if (at := time(key)) is not None:
                registration[key.removeprefix("registration_")] = at
        reminders = text("registration_reminders")
        if reminders is not None:
            offsets = reminder_texts(reminders)
            if len(offsets) > MAX_REMINDERS:
                errors["registration_reminders"] = f"Högst {MAX_REMINDERS} påminnelser."
            registration["reminders_before_deadline"] = [duration_value(o) for o in offsets[:MAX_REMINDERS]]
        data["registration"] = registration
        for key, field_spec in FIELDS.items():
            if field_spec.kind != "duration":
                continue
            if (value := text(key)) is not None:
                _put(data, field_spec.path, duration_value(value))
            elif key not in errors:
                errors[key] = f"Skriv en tid, till exempel {DURATION_EXAMPLES[key]}."
        _put(data, "surveys.keep_free_text", bool(self.values.get("keep_free_text")))
        data["target_groups"] = self._choices("target_groups", errors)
        if self.values.get("invite") == "chosen":
            data["invitation"] = {"organisations": self._choices("organisations", errors)}
        else:
            data["invitation"] = {"organisations": ["all"]}
        sessions = []
        for index, typed in enumerate(self.sessions):
            session: dict[str, Any] = {}
            for part in ("start", "end"):
                if (at := time(session_key(index, part), typed.get(part, ""))) is not None:
                    session[part] = at
            for part in ("location", "room", "link", "title"):
                if (value := text(session_key(index, part), typed.get(part, ""))) is not None:
                    session[part] = value
            sessions.append(session)
        data["sessions"] = sessions
        return data, errors

    def _choices(self, key: str, errors: dict[str, str]) -> list[str]:
        chosen: list[str] = getattr(self, key)
        if key in self.too_long:
            errors[key] = f"Högst {LIST_FIELDS[key][1]} val."
        for value in chosen:
            if len(value) > MAX_CHOICE or control_character(value):
                errors[key] = "Ett av valen finns inte i listan. Ladda om sidan och välj igen."
        return chosen


# -- a new round's id ---------------------------------------------------------
_TERM = re.compile(r"^(?P<base>.+)-(?P<term>ht|vt)(?P<year>\d{2})$")
_NUMBERED = re.compile(r"^(?P<base>.+)-(?P<n>\d{1,3})$")


def term_suffix(at: datetime) -> str:
    local = at.astimezone(STOCKHOLM)
    return f"{'vt' if local.month <= 6 else 'ht'}{local.year % 100:02d}"


def next_round_id(old_id: str, first_start: datetime | None, taken: set[str]) -> str:
    """A free id for the next round: the term of its first session ('lasa-skriva-ht27' -> 'lasa-skriva-vt28'), the
    term after the old one's when the dates are not set yet, or a number ('natverk' -> 'natverk-2')."""
    term = _TERM.match(old_id)
    base = term.group("base") if term else old_id
    if first_start is not None:
        candidates = [f"{base}-{term_suffix(first_start)}"]
    elif term:
        year = int(term.group("year"))
        following = f"vt{(year + 1) % 100:02d}" if term.group("term") == "ht" else f"ht{year:02d}"
        candidates = [f"{base}-{following}"]
    else:
        numbered = _NUMBERED.match(old_id)
        base = numbered.group("base") if numbered else old_id
        start = int(numbered.group("n")) + 1 if numbered else 2
        candidates = [f"{base}-{n}" for n in range(start, start + 1)]
    first = candidates[0]
    for n in range(2, 100):
        for candidate in candidates:
            candidate = _fit(candidate)
            if candidate not in taken and candidate not in RESERVED_IDS and ACTIVITY_ID.match(candidate):
                return candidate
        candidates = [f"{first}-{n}"]
    return ""  # the coordinator chooses


def _fit(candidate: str) -> str:
    """At most 64 characters, cut from the name's start part (the term or number at its end stays)."""
    if len(candidate) <= 64:
        return candidate
    head, _, tail = candidate.rpartition("-")
    return f"{head[: 63 - len(tail)].rstrip('-')}-{tail}"
