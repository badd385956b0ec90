"""The final report of an activity: counts from the store, rendered as Markdown, CSV and a PNG chart.

`collect_report_data` reads the store into a `ReportData` of counts only: no
names, e-mail addresses, schools or free-text answers, so the report can be
kept after the activity's personal data is anonymised. People are counted per
registration's `team_size` (a team of 5 counts as 5). `build_report` renders
it into a (not yet saved) `Report` row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from sqlalchemy import func
from sqlmodel import col, select

from activities_impl.calendar import location_text
from activities_impl.store import Store
from activities_impl.store.reports import AnswerTally
from domain.lifecycle import SeatStatus
from domain.tables import Attendance, Organisation, Participant, Registration, Report, SurveyInvitation
from domain.texts import FORMAT_LABELS, STOCKHOLM

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

SESSION_SURVEY = re.compile(r"^s(\d+)$")


class SessionRow(NamedTuple):
    no: int
    start: datetime
    location: str


class SurveyRow(NamedTuple):
    survey: str
    invited: int
    answered: int


@dataclass
class ReportData:
    activity_id: str
    title: str
    focus_area: str
    format: str
    places: int
    min_participants: int
    sessions: list[SessionRow]
    registrations_by_org: dict[str, int]
    registrations_by_role: dict[str, int]
    attendance_by_session: dict[int, int]
    surveys: list[SurveyRow]
    answer_summary: dict[str, dict[str, Any]]
    free_text_count: int = 0
    withdrawn: int = 0
    waitlisted_at_end: int = 0
    decisions: list[tuple[datetime, str, str]] = field(default_factory=list)

    @property
    def participants(self) -> int:
        return sum(self.registrations_by_org.values())


def survey_order(survey: str) -> tuple[int, int, str]:
    """Session surveys by number, then the final evaluation, the follow-up, anything else."""
    match = SESSION_SURVEY.match(survey)
    if match:
        return (0, int(match.group(1)), survey)
    return ({"final": 1, "follow-up": 2}.get(survey, 3), 0, survey)


def survey_label(survey: str) -> str:
    match = SESSION_SURVEY.match(survey)
    if match:
        return f"Träff {match.group(1)}"
    return {"final": "Slututvärdering", "follow-up": "Uppföljning"}.get(survey, survey)


def _by_count(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def summarise_answers(answers: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """(summary, free-text count) of one survey's answers.

    Numbers are averaged per question ("questions": {key: {"mean", "count"}});
    booleans and lists of options are counted per value ("choices"); non-empty
    strings are only counted as free text, never copied.
    """
    numbers: dict[str, list[float]] = defaultdict(list)
    choices: dict[str, Counter[str]] = defaultdict(Counter)
    free_text = 0
    for answer in answers:
        for key, value in answer.items():
            if isinstance(value, bool):
                choices[key]["ja" if value else "nej"] += 1
            elif isinstance(value, (int, float)):
                numbers[key].append(float(value))
            elif isinstance(value, str):
                free_text += bool(value.strip())
            elif isinstance(value, list):
                choices[key].update(str(option) for option in value)
    summary = {
        "answers": len(answers),
        "questions": {key: {"mean": round(sum(v) / len(v), 2), "count": len(v)} for key, v in sorted(numbers.items())},
        "choices": {key: dict(sorted(c.items())) for key, c in sorted(choices.items())},
    }
    return summary, free_text


def _summary_of_tallies(tallies: list[AnswerTally]) -> tuple[dict[str, Any], int]:
    """`summarise_answers` of one survey's answers, from the database's counts of them (`Store.answer_tallies`)."""
    numbers: dict[str, tuple[int, int]] = {}
    choices: dict[str, Counter[str]] = defaultdict(Counter)
    answers = free_text = 0
    for tally in tallies:
        key = tally.key or ""
        if tally.kind == "answers":
            answers += tally.n
        elif tally.kind == "integer":
            numbers[key] = (tally.n, tally.total)
        elif tally.kind in ("true", "false"):
            choices[key]["ja" if tally.kind == "true" else "nej"] += tally.n
        elif tally.kind == "array":
            choices.setdefault(key, Counter())  # an empty list too names the question among the choices
        elif tally.kind == "option":
            choices[key][tally.option or ""] += tally.n
        elif tally.kind == "text":
            free_text += tally.total
    summary = {
        "answers": answers,
        # The sum is exact (see AnswerTally): float(total) / count is what Python's mean of the floats gives.
        "questions": {
            key: {"mean": round(total / count, 2), "count": count} for key, (count, total) in sorted(numbers.items())
        },
        "choices": {key: dict(sorted(c.items())) for key, c in sorted(choices.items())},
    }
    return summary, free_text


def summarise_tallies(
    tallies: list[AnswerTally], documents: Callable[[str], list[str]]
) -> tuple[dict[str, dict[str, Any]], int]:
    """(summary per survey, free-text count) from `Store.answer_tallies`, as `summarise_answers` gives them.

    A survey with anything the database does not count exactly ("other") is summarised in Python from its
    `documents(survey)`, the answers' JSON in the order they came.
    """
    by_survey: dict[str, list[AnswerTally]] = defaultdict(list)
    for tally in tallies:
        by_survey[tally.survey].append(tally)
    answer_summary: dict[str, dict[str, Any]] = {}
    free_text = 0
    for survey in sorted(by_survey, key=survey_order):
        if any(tally.kind == "other" for tally in by_survey[survey]):
            values = (json.loads(document) for document in documents(survey))
            answer_summary[survey], count = summarise_answers([v if isinstance(v, dict) else {} for v in values])
        else:
            answer_summary[survey], count = _summary_of_tallies(by_survey[survey])
        free_text += count
    return answer_summary, free_text


def collect_report_data(store: Store, activity_id: str) -> ReportData:
    """Counts for the report of `activity_id`, from its current plan and the store."""
    plan = store.plan(activity_id)
    confirmed_by_org: Counter[str] = Counter()
    confirmed_by_role: Counter[str] = Counter()
    people_by_status: Counter[str] = Counter()
    attendance = {no: 0 for no in range(1, len(plan.sessions) + 1)}
    invited: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    with store.session() as s:  # counted by the database: an activity may have 100,000 rows of each
        # Grouped by organisation id, named afterwards: one join per group, not per registration; the column with the
        # most values first, which SQLite sorts faster.
        grouped = (
            select(
                col(Registration.status).label("status"),
                col(Participant.role).label("role"),
                col(Participant.organisation_id).label("organisation_id"),
                func.sum(Registration.team_size).label("people"),
            )
            .join(Participant, col(Participant.id) == col(Registration.participant_id))
            .where(Registration.activity_id == activity_id)
            .group_by(Participant.organisation_id, Participant.role, Registration.status)
            .subquery()
        )
        rows = s.exec(
            select(grouped.c.status, grouped.c.role, Organisation.short_name, grouped.c.people).join(
                Organisation, col(Organisation.id) == grouped.c.organisation_id
            )
        )
        for status, role, organisation, people in rows:
            people_by_status[status] += people
            if status == SeatStatus.CONFIRMED.value:
                confirmed_by_org[organisation] += people
                confirmed_by_role[role] += people
        for session_no, present in s.exec(
            select(Attendance.session_no, func.count())
            .where(Attendance.activity_id == activity_id, Attendance.present)
            .group_by(col(Attendance.session_no))
        ):
            attendance[session_no] = present
        for survey, count, answered_count in s.exec(
            select(SurveyInvitation.survey, func.count(), func.count(col(SurveyInvitation.answered_at)))
            .where(SurveyInvitation.activity_id == activity_id)
            .group_by(SurveyInvitation.survey)
        ):
            invited[survey], answered[survey] = count, answered_count
    answer_summary, free_text = summarise_tallies(
        store.answer_tallies(activity_id), lambda survey: store.answer_documents(activity_id, survey)
    )

    return ReportData(
        activity_id=plan.id,
        title=plan.title,
        focus_area=plan.focus_area,
        format=plan.format.value,
        places=plan.places,
        min_participants=plan.min_participants,
        sessions=[SessionRow(no, s.start, location_text(s)) for no, s in enumerate(plan.sessions, start=1)],
        registrations_by_org=_by_count(confirmed_by_org),
        registrations_by_role=_by_count(confirmed_by_role),
        attendance_by_session=dict(sorted(attendance.items())),
        surveys=[SurveyRow(sv, invited[sv], answered[sv]) for sv in sorted(invited, key=survey_order)],
        answer_summary=answer_summary,
        free_text_count=free_text,
        withdrawn=people_by_status[SeatStatus.WITHDRAWN.value],
        waitlisted_at_end=people_by_status[SeatStatus.WAITLISTED.value],
        decisions=[(entry.at, entry.kind, entry.reason) for entry in store.audit_log(activity_id)],
    )


# -- rendering -----------------------------------------------------------------


def _local(at: datetime) -> str:
    return f"{at.astimezone(STOCKHOLM):%Y-%m-%d %H.%M}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _decimal(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"


def render_markdown(data: ReportData) -> str:
    """The report in Swedish Markdown (times in Swedish time), from `templates/report.md.j2`."""
    return _MARKDOWN.render(
        data=data,
        total=data.participants,
        format_name=FORMAT_LABELS.get(data.format, data.format),
        percent=_percent,
    )


def _markdown_template() -> Template:
    env = Environment(
        loader=PackageLoader("activities_impl", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML: cells are escaped for tables by `cell`
    )
    env.filters.update(local=_local, cell=_cell, decimal=_decimal, survey_label=survey_label)
    return env.get_template("report.md.j2")


_MARKDOWN = _markdown_template()


def render_csv(data: ReportData) -> str:
    """Two CSV tables separated by one blank line.

    First `organisation,deltagare` with one row per organisation (confirmed
    participants), then `tillfälle,närvarande` with one row per session.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["organisation", "deltagare"])
    writer.writerows(data.registrations_by_org.items())
    writer.writerow([])
    writer.writerow(["tillfälle", "närvarande"])
    writer.writerows(data.attendance_by_session.items())
    return buffer.getvalue()


def render_chart(data: ReportData) -> bytes:
    """A PNG horizontal bar chart of confirmed participants per municipality/organisation (see `chart`)."""
    buffer = io.BytesIO()
    chart(data).print_png(buffer, metadata={"Software": None})  # type: ignore[no-untyped-call]  # backend_agg is untyped
    return buffer.getvalue()


def chart(data: ReportData) -> FigureCanvasAgg:
    """The chart's figure on its Agg canvas, not drawn yet.

    Uses the object-oriented Agg API (no pyplot), so there is no global figure
    state to close and it is safe in the worker's threads. `render_chart` writes
    it with the canvas's `print_png`, which draws the figure once, laid out (the
    constrained layout) in that draw: `figure.savefig` would draw it once more
    before, without pixels, only for the layout. The PNG is the same, byte for
    byte.
    """
    # Imported here: matplotlib costs every worker ~40 MiB, and only the report needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = list(data.registrations_by_org)[::-1]  # largest on top
    counts = [data.registrations_by_org[name] for name in names]
    figure = Figure(figsize=(8, 1.5 + 0.35 * max(len(names), 1)), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if names:
        bars = axes.barh(names, counts, color="#2b6f9e")
        axes.bar_label(bars, padding=3)
        axes.set_xlim(0, max(counts) * 1.15)
    else:
        axes.text(0.5, 0.5, "Inga bekräftade deltagare", ha="center", va="center", transform=axes.transAxes)
        axes.set_yticks([])
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("Antal deltagare")
    axes.set_title(f"Deltagare per kommun/organisation\n{data.title}")
    return canvas


def summary(data: ReportData) -> dict[str, Any]:
    """The counts as JSON-ready data (the Report row's summary_json).

    Totals on top: `confirmed` participants, survey `invited` and `answers` over all surveys.
    """
    return {
        "activity_id": data.activity_id,
        "title": data.title,
        "focus_area": data.focus_area,
        "format": data.format,
        "places": data.places,
        "min_participants": data.min_participants,
        "confirmed": data.participants,
        "invited": sum(s.invited for s in data.surveys),
        "answers": sum(s.answered for s in data.surveys),
        "sessions": [{"no": s.no, "start": s.start.isoformat(), "location": s.location} for s in data.sessions],
        "registrations_by_org": data.registrations_by_org,
        "registrations_by_role": data.registrations_by_role,
        "attendance_by_session": {str(no): n for no, n in data.attendance_by_session.items()},
        "surveys": [s._asdict() for s in data.surveys],
        "answer_summary": data.answer_summary,
        "free_text_count": data.free_text_count,
        "withdrawn": data.withdrawn,
        "waitlisted_at_end": data.waitlisted_at_end,
        "decisions": [{"at": at.isoformat(), "kind": kind, "reason": reason} for at, kind, reason in data.decisions],
    }


def build_report(store: Store, activity_id: str) -> Report:
    """The rendered report of `activity_id` as a Report row (not saved: see `Store.save_report`)."""
    data = collect_report_data(store, activity_id)
    return Report(
        activity_id=activity_id,
        markdown=render_markdown(data),
        csv=render_csv(data),
        chart_png=render_chart(data),
        summary_json=json.dumps(summary(data), ensure_ascii=False),
    )
