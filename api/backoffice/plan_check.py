"""An activity plan checked by the plan model (`domain.plan.parse_plan`), its problems said in Swedish.

The one place where the model's field paths get their Swedish names (`LABELS`) and its problems their Swedish
sentences: pydantic's errors by error type, with sentences of their own for some fields (`BY_TYPE`,
`BY_FIELD`), the plan's cross-field rules (`domain.plan.plan_problems`) by field and English message (`RULES`),
and refusals of the plan text itself (`domain.plan_source`, `SOURCE`). The form and the YAML upload both use it.

`check_plan` runs `parse_plan` (the same validation as the CLI and the API) and, when it refuses the plan,
`ActivityPlan.model_validate` for the pydantic errors with their types: `parse_plan` lists those first, then the
rules that could run on the fields valid on their own, so a problem whose field has no pydantic error is a rule's.
The back-office adds one rule of its own: the focus area must be one of the reference data's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from domain.plan import ActivityPlan, PlanError, Problem, parse_plan
from domain.plan_source import MAX_DEPTH, MAX_NODES, MAX_PLAN_BYTES, SourceError, clip
from domain.reference import ReferenceData


@dataclass(frozen=True)
class Issue:
    """One problem: the model's field path ('sessions[1].end', 'plan' for the whole), its Swedish name, and what
    is wrong, in Swedish."""

    path: str
    label: str
    message: str

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


# -- the Swedish names of the plan's fields ---------------------------------
# Keyed by path with list indices written `[]`; `{n}` is the first index plus one (träff 2).
LABELS: dict[str, str] = {
    "plan": "Planen",
    "id": "Kortnamn",
    "title": "Aktivitetens namn",
    "description": "Beskrivning",
    "focus_area": "Insatsområde",
    "action_plan_line": "Rad i handlingsplanen",
    "target_groups": "Målgrupp",
    "target_groups[]": "Målgrupp {n}",
    "format": "Typ av aktivitet",
    "organiser_email": "Samordnarens e-postadress",
    "places": "Antal platser",
    "min_participants": "Minsta antal deltagare",
    "teams": "Anmälan i lag",
    "teams.allowed": "Anmälan i lag",
    "teams.min_size": "Minsta lagstorlek",
    "teams.max_size": "Största lagstorlek",
    "registration": "Anmälan",
    "registration.opens": "Anmälan öppnar",
    "registration.deadline": "Sista anmälningsdag",
    "registration.reminders_before_deadline": "Påminnelser före sista anmälningsdag",
    "registration.reminders_before_deadline[]": "Påminnelse {n} före sista anmälningsdag",
    "grace_period": "Tid för beslut vid för få anmälda",
    "sessions": "Träffar",
    "sessions[]": "Träff {n}",
    "sessions[].start": "Träff {n}, börjar",
    "sessions[].end": "Träff {n}, slutar",
    "sessions[].location": "Träff {n}, plats",
    "sessions[].room": "Träff {n}, sal eller lokal",
    "sessions[].link": "Träff {n}, länk",
    "sessions[].title": "Träff {n}, rubrik",
    "session_reminder_before": "Påminnelse före varje träff",
    "surveys": "Utvärdering",
    "surveys.window": "Enkäten är öppen i",
    "surveys.reminder_after": "Påminnelse om enkäten efter",
    "surveys.attendance_grace": "Tid att registrera närvaro",
    "surveys.final_evaluation_after": "Slututvärdering efter sista träffen",
    "surveys.follow_up_after": "Uppföljning efter sista träffen",
    "surveys.keep_free_text": "Spara fritextsvar",
    "retention": "Personuppgifterna raderas efter",
    "invitation": "Inbjudan",
    "invitation.organisations": "Inbjudna organisationer",
    "invitation.organisations[]": "Inbjuden organisation {n}",
}

DURATION_FIELDS = {
    "grace_period",
    "session_reminder_before",
    "retention",
    "registration.reminders_before_deadline[]",
    "surveys.window",
    "surveys.reminder_after",
    "surveys.attendance_grace",
    "surveys.final_evaluation_after",
    "surveys.follow_up_after",
}
ONE_LINE_FIELDS = {
    "title",
    "focus_area",
    "target_groups[]",
    "invitation.organisations[]",
    "sessions[].room",
    "sessions[].title",
}
DURATION_TEXT = "Skriv en tid som 14 dagar, 2 veckor, 3 timmar eller 30 minuter."
CONTROL_TEXT = (
    "Texten innehåller ett otillåtet tecken (ett osynligt styrtecken eller en radbrytning). Skriv den på en rad."
)
WHOLE_NUMBER = "Skriv ett heltal, till exempel 40."
DATE_TIME = "Skriv datum och tid med tidszon, till exempel 2027-09-23T09:00:00+02:00."

# -- pydantic's errors: by field, then by type ------------------------------
BY_FIELD: dict[tuple[str, str], str] = {
    ("id", "missing"): "Skriv ett kortnamn, till exempel lasa-skriva-ht27.",
    ("id", "value_error"): (
        "Kortnamnet får bara ha små bokstäver a–z, siffror och bindestreck, 3–64 tecken, och inte börja eller sluta "
        "med bindestreck. Till exempel lasa-skriva-ht27."
    ),
    ("title", "missing"): "Skriv aktivitetens namn.",
    ("title", "string_too_short"): "Namnet måste ha minst {min_length} tecken.",
    ("title", "string_too_long"): "Namnet får ha högst {max_length} tecken.",
    ("description", "value_error"): "Beskrivningen innehåller ett otillåtet tecken (ett osynligt styrtecken).",
    ("focus_area", "missing"): "Välj ett insatsområde.",
    ("action_plan_line", "value_error"): "Välj en rad i handlingsplanen i listan, eller ingen rad.",
    ("action_plan_line", "string_type"): "Välj en rad i handlingsplanen i listan, eller ingen rad.",
    ("target_groups", "missing"): "Välj minst en målgrupp.",
    ("target_groups", "too_short"): "Välj minst en målgrupp.",
    ("target_groups", "too_long"): "Välj högst {max_length} målgrupper.",
    ("format", "missing"): "Välj typ av aktivitet.",
    ("format", "enum"): "Välj typ av aktivitet i listan.",
    ("organiser_email", "missing"): "Skriv samordnarens e-postadress.",
    ("organiser_email", "value_error"): "Skriv en giltig e-postadress, till exempel namn@miun.se.",
    ("places", "missing"): "Skriv hur många platser aktiviteten har.",
    ("places", "greater_than_equal"): "Aktiviteten måste ha minst {ge} plats.",
    ("places", "less_than_equal"): "Aktiviteten kan ha högst {le} platser.",
    ("min_participants", "missing"): "Skriv minsta antal deltagare (0 om aktiviteten alltid ska genomföras).",
    ("min_participants", "greater_than_equal"): "Minsta antal deltagare kan inte vara mindre än {ge}.",
    ("teams.min_size", "greater_than_equal"): "Ett lag måste ha minst {ge} deltagare.",
    ("teams.max_size", "greater_than_equal"): "Ett lag måste ha minst {ge} deltagare.",
    ("registration", "missing"): "Skriv när anmälan öppnar och sista anmälningsdag.",
    ("registration.opens", "missing"): "Skriv när anmälan öppnar.",
    ("registration.deadline", "missing"): "Skriv sista anmälningsdag och klockslag.",
    ("registration.reminders_before_deadline", "too_long"): "Högst {max_length} påminnelser.",
    ("sessions", "missing"): "Lägg till minst en träff.",
    ("sessions", "too_short"): "Lägg till minst en träff.",
    ("sessions", "too_long"): "En aktivitet kan ha högst {max_length} träffar.",
    ("sessions[].start", "missing"): "Skriv när träffen börjar.",
    ("sessions[].end", "missing"): "Skriv när träffen slutar.",
    ("sessions[].location", "missing"): "Välj var träffen hålls.",
    ("sessions[].location", "enum"): "Välj var träffen hålls i listan.",
    ("sessions[].link", "value_error"): (
        "Skriv en fullständig webbadress som börjar med https://, utan mellanslag, till exempel "
        "https://miun.se/zoom/123."
    ),
    ("invitation.organisations", "too_short"): "Välj minst en organisation att bjuda in.",
    ("invitation.organisations", "too_long"): "Högst {max_length} organisationer.",
}
BY_TYPE: dict[str, str] = {
    "missing": "Fyll i det här fältet.",
    "string_type": "Här ska det stå en text.",
    "string_too_short": "Skriv minst {min_length} tecken.",
    "string_too_long": "Högst {max_length} tecken.",
    "int_parsing": WHOLE_NUMBER,
    "int_type": WHOLE_NUMBER,
    "int_from_float": WHOLE_NUMBER,
    "greater_than_equal": "Värdet måste vara minst {ge}.",
    "less_than_equal": "Värdet får vara högst {le}.",
    "greater_than": "Värdet måste vara större än {gt}.",
    "less_than": "Värdet måste vara mindre än {lt}.",
    "bool_parsing": "Svara ja eller nej (true eller false).",
    "bool_type": "Svara ja eller nej (true eller false).",
    "enum": "Välj ett av alternativen.",
    "too_short": "Välj minst {min_length}.",
    "too_long": "Högst {max_length} värden.",
    "list_type": "Här ska det stå en lista.",
    "dict_type": "Här ska det stå fält med värden (namn: värde).",
    "model_type": "Här ska det stå fält med värden (namn: värde).",
    "model_attributes_type": "Här ska det stå fält med värden (namn: värde).",
    "datetime_parsing": DATE_TIME,
    "datetime_from_date_parsing": DATE_TIME,
    "datetime_type": DATE_TIME,
    "timezone_aware": "Skriv tiden med tidszon, till exempel 2027-09-23T09:00:00+02:00 (svensk sommartid).",
    "extra_forbidden": "Det här fältet finns inte i en aktivitetsplan. Kontrollera stavningen.",
    "value_error": "Värdet godtas inte. Kontrollera det.",
}

# -- the plan's cross-field rules, by the problem's code (`domain.plan.plan_problems`) -> Swedish ----------------
RULES: dict[str, str] = {
    "min_above_places": "Minsta antal deltagare ({min}) är fler än antalet platser ({places}).",
    "team_min_above_max": "Minsta lagstorlek är större än största lagstorlek ({max}).",
    "team_above_places": "Ett lag kan inte vara större än antalet platser ({places}).",
    "deadline_before_opens": "Sista anmälningsdag måste vara efter att anmälan öppnar.",
    "deadline_after_first_session": "Sista anmälningsdag måste vara innan första träffen börjar.",
    "reminder_not_positive": "En påminnelse måste gå ut före sista anmälningsdag: skriv en tid längre än 0.",
    "reminder_before_opens": "Påminnelsen skulle gå ut innan anmälan har öppnat. Välj en kortare tid.",
    "session_ends_before_start": "Träffen måste sluta efter att den börjar.",
    "digital_without_link": "En digital träff behöver en länk.",
    "sessions_out_of_order": "Träffarna ska stå i tidsordning: den här börjar före träff {before}.",
    "session_overlaps": "Träffen börjar innan träff {before} har slutat.",
    "survey_window_not_positive": "Enkäten måste vara öppen längre tid än 0.",
    "survey_reminder_too_late": "Påminnelsen måste gå ut innan enkäten stänger (kortare tid än enkäten är öppen).",
    "follow_up_before_final": "Uppföljningen måste komma senare än slututvärderingen.",
    "unknown_organisation": "Organisationen finns inte bland RUN:s organisationer.",
    "unknown_target_group": "Målgruppen finns inte. Välj bland: {known}.",
    "unknown_action_plan_line": (
        "Handlingsplanen för {year} har ingen rad ”{line}”. Välj en rad i handlingsplanen för {year} (året för den "
        "första träffen), eller ingen rad om aktiviteten ligger utanför handlingsplanen."
    ),
}
RULE_FALLBACK = "Kontrollera värdet."

# -- refusals of the plan text, by `domain.plan_source.SourceError.code` ----------------------------
SOURCE: dict[str, str] = {
    "too_large": f"Filen är för stor: högst {MAX_PLAN_BYTES // 1024} KiB.",
    "too_deep": f"Filen har för många nivåer i varandra: högst {MAX_DEPTH}.",
    "too_many_values": f"Filen har för många värden: högst {MAX_NODES}, YAML-alias medräknade.",
    "alias_cycle": "Filen har ett YAML-alias som hänvisar till sig självt.",
    "invalid_yaml": "Filen är inte giltig YAML.",
    "invalid_yaml_at": "Filen är inte giltig YAML: fel på rad {line}, kolumn {column}.",
}
SOURCE_FALLBACK = "Filen kunde inte läsas som en aktivitetsplan."
UNKNOWN_FOCUS_AREA = "Välj ett insatsområde i listan."


def pattern_of(path: str) -> str:
    """'sessions[1].end' -> 'sessions[].end'."""
    return re.sub(r"\[\d+\]", "[]", path)


def label(path: str) -> str:
    """The Swedish name of a field path ('Träff 2, slutar'); the path itself for a field a plan does not have."""
    pattern = pattern_of(path)
    index = re.search(r"\[(\d+)\]", path)
    n = int(index.group(1)) + 1 if index else 0
    while pattern:
        if pattern in LABELS:
            return LABELS[pattern].format(n=n)
        pattern = pattern.rpartition(".")[0]  # a part no label names: its parent's name ('teams.x' -> 'teams')
    return path


def location(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path, written as `domain.plan.parse_plan` writes it."""
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else clip(str(part))
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "plan"


def _format(template: str, values: dict[str, Any]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def pydantic_text(path: str, kind: str, ctx: dict[str, Any] | None) -> str:
    """The Swedish sentence for a pydantic error of `kind` at `path`."""
    pattern = pattern_of(path)
    ctx = ctx or {}
    template = BY_FIELD.get((pattern, kind))
    if template is None and kind == "value_error":
        if pattern in DURATION_FIELDS:
            template = DURATION_TEXT
        elif pattern in ONE_LINE_FIELDS:
            template = CONTROL_TEXT
    return _format(template or BY_TYPE.get(kind, RULE_FALLBACK), ctx)


def rule_text(code: str, details: dict[str, Any]) -> str:
    """The Swedish sentence for a cross-field rule's problem, by its code."""
    return _format(RULES[code], details) if code in RULES else RULE_FALLBACK


def source_text(exc: SourceError) -> str:
    """The Swedish sentence for a refused plan text (`SourceError`), by its code."""
    code = "invalid_yaml_at" if exc.code == "invalid_yaml" and "line" in exc.details else exc.code
    return _format(SOURCE[code], exc.details) if code in SOURCE else SOURCE_FALLBACK


def rule_issues(problems: list[Problem]) -> list[Issue]:
    """Problems found by a rule outside the plan model (e.g. `Store.action_plan_line_problems`), in Swedish."""
    return [Issue(p.field, label(p.field), rule_text(p.code, p.details)) for p in problems]


def source_issue(exc: SourceError) -> Issue:
    return Issue("plan", "Filen", source_text(exc))


def focus_areas(reference: ReferenceData) -> set[str]:
    return {area for areas in reference.focus_areas.values() for area in areas}


def check_plan(data: Any, reference: ReferenceData) -> tuple[ActivityPlan | None, list[Issue]]:
    """The plan, or None and every problem in Swedish (a field's own problems first, then the rules')."""
    issues: list[Issue] = []
    plan: ActivityPlan | None = None
    try:
        plan = parse_plan(data, reference)
    except PlanError as refused:
        try:
            ActivityPlan.model_validate(data)
            errors = []
        except ValidationError as exc:
            errors = exc.errors()
        named: set[str] = set()
        for error in errors:
            path = location(error["loc"])
            named.add(path)
            issues.append(Issue(path, label(path), pydantic_text(path, error["type"], error.get("ctx"))))
        for problem in refused.problems:
            if problem.field in named:
                continue
            issues.append(Issue(problem.field, label(problem.field), rule_text(problem.code, problem.details)))
    area = plan.focus_area if plan is not None else (data.get("focus_area") if isinstance(data, dict) else None)
    known = focus_areas(reference)
    if isinstance(area, str) and area not in known and not any(i.path == "focus_area" for i in issues):
        issues.append(Issue("focus_area", label("focus_area"), UNKNOWN_FOCUS_AREA))
    return (plan if not issues else None), issues
