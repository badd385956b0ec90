"""The activity page (`/admin/activities/<id>`): timeline, sessions, who registered, attendance, the decisions
the phase allows, survey results, the report, undeliverable addresses and the audit log; the participant list as
CSV and XLSX. After anonymisation the page shows counts only."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from activities_impl import calendar as ics
from api.backoffice.context import BackOffice, now
from api.backoffice.exports import STATUS_LABELS, as_csv, as_xlsx
from api.service import Refused
from domain.dashboard import next_step_text, phase_label, time_left
from domain.lifecycle import ActivityStatus, OverrideAction
from domain.phases import Phase
from domain.plan import ActivityPlan
from domain.rules import OVERRIDE_PHASES
from domain.staff import STAFF_ID_PREFIX, sees_people, without_people
from domain.survey_results import decimal, percent, survey_results
from domain.tables import Report, StaffMember
from domain.texts import when

SORTS = {  # ?sort= -> the key rows are sorted by (all server-side: works without JavaScript)
    "registered": lambda r: (r["registered_at"],),
    "name": lambda r: ((r["name"] or "").casefold(),),
    "organisation": lambda r: (r["organisation"].casefold(), (r["name"] or "").casefold()),
    "status": lambda r: (r["status"], r["waitlist_position"] or 0, r["registered_at"]),
}
SORT_LABELS = {"registered": "Anmäld", "name": "Namn", "organisation": "Organisation", "status": "Status"}
DECISION_LABELS = {
    OverrideAction.RUN: "Genomför",
    OverrideAction.EXTEND: "Förläng anmälan",
    OverrideAction.POSTPONE: "Skjut upp",
    OverrideAction.CANCEL: "Ställ in",
}
KIND_LABELS = {  # the workflow's decisions, as the office names them
    "awaiting_coordinator": "Under minimum vid sista anmälningsdagen: väntar på beslut",
    "confirm": "Blir av",
    "cancel": "Inställd",
    "extend": "Anmälan förlängd",
    "postpone": "Uppskjuten",
    "anonymise": "Avidentifierad",
    "step_failed": "Ett steg kunde inte genomföras",
}
AUDIT_LABELS = {
    "attendance": "Närvaro registrerad",
    "message": "Meddelande skickat",
    "undeliverable": "Mejl kom inte fram",
    "round_created": "Ny omgång enligt schema",
    "schedule_paused": "Schemat pausat",
    "schedule_resumed": "Schemat återupptaget",
}
ACTIONS = {a.value for a in OverrideAction}
FLASH = {  # ?klart= after a change: what the page confirms
    "narvaro": "Närvaron är registrerad.",
    "beslut": "Beslutet är registrerat.",
    "meddelande": "Meddelandet är skickat.",
    "startad": "Aktiviteten är startad.",
}


@dataclass
class ActivityView:
    plan: ActivityPlan | None
    status: ActivityStatus | None
    status_error: str = ""
    participants: list[dict[str, Any]] = field(default_factory=list)
    present: dict[int, set[int]] = field(default_factory=dict)

    @property
    def anonymised(self) -> bool:
        return self.status is not None and self.status.phase is Phase.ANONYMISED


async def load(bo: BackOffice, activity_id: str) -> ActivityView:
    plan = await bo.directory.plan(activity_id)
    status, error = None, ""
    if bo.service is not None and plan is not None:
        try:
            status = await bo.service.status(activity_id)
        except Refused:
            pass  # saved, not started
        except Exception as exc:  # noqa: BLE001 - the page shows what the store knows when Temporal does not answer
            error = type(exc).__name__
    view = ActivityView(plan, status, error)
    if plan is not None:
        view.participants = await bo.directory.participants(activity_id)
        for row in await asyncio.to_thread(bo.store.attendance, activity_id):
            view.present.setdefault(row.session_no, set()).add(row.participant_id)
    return view


def audit_kind(kind: str) -> str:
    """An audit entry's kind in Swedish where the office has a word for it; the code otherwise."""
    if kind.startswith("decision:"):
        action = kind.removeprefix("decision:")
        return f"Beslut: {DECISION_LABELS.get(OverrideAction(action), action).lower()}" if action in ACTIONS else kind
    return KIND_LABELS.get(kind, AUDIT_LABELS.get(kind, kind))


def who(by: str, staff: dict[str, StaffMember]) -> str:
    """An audit entry's or decision's author, for the office: the member's name (staff ids resolved here only)."""
    staff_id = by.removeprefix("staff:")
    if staff_id.startswith(STAFF_ID_PREFIX):
        member = staff.get(staff_id)
        return (member.name or member.email) if member else "okänd medarbetare"
    return {"engine": "runflow (automatiskt)", "coordinator": "samordnare"}.get(by, by)


def activity_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def staff_names() -> dict[str, StaffMember]:
        return {m.id: m for m in await asyncio.to_thread(bo.store.staff_members)}

    @router.get("/activities/{activity_id}", response_class=HTMLResponse)
    async def activity(request: Request, activity_id: str, member: StaffMember = Depends(bo.staff)) -> Response:
        view = await load(bo, activity_id[:64])
        if view.plan is None:
            return bo.message(
                request, "Aktiviteten finns inte", ["Kontrollera länken."], 404, "bad", member=member, back="/admin/"
            )
        plan, status = view.plan, view.status
        sort = request.query_params.get("sort", "registered")
        sort = sort if sort in SORTS else "registered"
        people = sees_people(member.role)  # viewers see the list without names, addresses, schools and teams
        if not people and sort == "name":
            sort = "registered"
        rows = [
            {**(r if people else without_people(r)), "registered": when(r["registered_at"])}
            for r in sorted(view.participants, key=SORTS[sort])
        ]
        staff = await staff_names()
        audit = await asyncio.to_thread(bo.store.audit_log, activity_id)
        counts = {
            s: sum(1 for r in view.participants if r["status"] == s) for s in ("confirmed", "waitlisted", "withdrawn")
        }
        phase = status.phase if status else None
        decisions = [a for a, phases in OVERRIDE_PHASES.items() if phase in phases]
        report = await bo.directory.report(activity_id)
        undeliverable = await bo.service.undeliverable(activity_id) if bo.service is not None else []
        sessions = [
            {
                "no": n,
                "when": when(s.start, s.end),
                "where": ics.location_text(s),
                "present": len(view.present.get(n, set())),
                "recorded": view.present.get(n, set()),
                "attendance_open": (status is not None and phase in (Phase.RUNNING, Phase.CONFIRMED, Phase.EVALUATING)),
            }
            for n, s in enumerate(plan.sessions, start=1)
        ]
        return bo.page(
            request,
            "admin/activity.html",
            member=member,
            title=plan.title,
            plan=plan,
            activity_id=activity_id,
            wf=status,
            status_error=view.status_error,
            phase=phase_label(phase.value if phase else None),
            anonymised=view.anonymised,
            started=status is not None,
            grace_left=time_left(status.grace_until, now()) if status and status.grace_until else "",
            next_step=next_step_text(status.next_due.what) if status and status.next_due else "",
            next_at=when(status.next_due.at) if status and status.next_due else "",
            decisions_made=[
                {
                    "at": when(d.at),
                    "kind": KIND_LABELS.get(d.kind, d.kind),
                    "who": who(f"staff:{d.staff_id}" if d.staff_id else d.by.value, staff),
                    "basis": f"{d.confirmed} bekräftade, minst {d.min_participants}",
                }
                for d in (status.decisions if status else [])
            ],
            decisions=[{"action": a.value, "label": DECISION_LABELS[a]} for a in decisions],
            sessions=sessions,
            rows=[] if view.anonymised else rows,
            counts=counts,
            total=len(view.participants),
            sort=sort,
            sort_labels=SORT_LABELS if people else {k: v for k, v in SORT_LABELS.items() if k != "name"},
            status_labels=STATUS_LABELS,
            surveys=await survey_sections(bo, activity_id, view),
            decimal=decimal,
            report=report,
            report_summary=json.loads(report.summary_json) if report else None,
            undeliverable=[] if view.anonymised or not people else undeliverable,
            undeliverable_count=len(undeliverable),
            people=people,
            audit=[
                {"at": when(e.at), "kind": audit_kind(e.kind), "who": who(e.by, staff), "reason": e.reason}
                for e in reversed(audit)
            ],
            flash=FLASH.get(request.query_params.get("klart", "")),
            deadline_text=when(status.deadline) if status else when(plan.registration.deadline),
        )

    async def participant_rows(activity_id: str, member: StaffMember) -> list[dict[str, Any]]:
        rows = await bo.directory.participants(activity_id[:64])
        return rows if sees_people(member.role) else [without_people(r) for r in rows]

    @router.get("/activities/{activity_id}/participants.csv")
    async def participants_csv(activity_id: str, member: StaffMember = Depends(bo.staff)) -> Response:
        rows = await participant_rows(activity_id, member)
        return Response(
            as_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="deltagare-{activity_id[:64]}.csv"'},
        )

    @router.get("/activities/{activity_id}/participants.xlsx")
    async def participants_xlsx(activity_id: str, member: StaffMember = Depends(bo.staff)) -> Response:
        plan = await bo.directory.plan(activity_id[:64])
        rows = await participant_rows(activity_id, member)
        return Response(
            await asyncio.to_thread(as_xlsx, rows, plan.title if plan else activity_id),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="deltagare-{activity_id[:64]}.xlsx"'},
        )

    async def stored_report(request: Request, activity_id: str, member: StaffMember) -> Report | Response:
        report = await bo.directory.report(activity_id[:64])
        if report is None:
            return bo.message(
                request, "Ingen rapport än", ["Rapporten skrivs när aktiviteten är avslutad."], 404, member=member
            )
        return report

    @router.get("/activities/{activity_id}/report", response_class=HTMLResponse)
    async def report_page(request: Request, activity_id: str, member: StaffMember = Depends(bo.staff)) -> Response:
        report = await stored_report(request, activity_id, member)
        if not isinstance(report, Report):
            return report
        # The report's Markdown, rendered without any HTML it might contain (CommonMark with HTML turned off).
        html = MarkdownIt("commonmark", {"html": False}).render(report.markdown)
        plan = await bo.directory.plan(activity_id[:64])
        return bo.page(
            request,
            "admin/report.html",
            member=member,
            title=f"Rapport: {plan.title if plan else activity_id}",
            activity_id=activity_id,
            report_html=Markup(html),
        )

    @router.get("/activities/{activity_id}/report.csv")
    async def report_csv(request: Request, activity_id: str, member: StaffMember = Depends(bo.staff)) -> Response:
        report = await stored_report(request, activity_id, member)
        if not isinstance(report, Report):
            return report
        return Response(
            report.csv.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="rapport-{activity_id[:64]}.csv"'},
        )

    @router.get("/activities/{activity_id}/report.png")
    async def report_png(request: Request, activity_id: str, member: StaffMember = Depends(bo.staff)) -> Response:
        report = await stored_report(request, activity_id, member)
        if not isinstance(report, Report):
            return report
        return Response(report.chart_png, media_type="image/png")

    return router


async def survey_sections(bo: BackOffice, activity_id: str, view: ActivityView) -> list[dict[str, Any]]:
    """Per survey sent: the response rate, each scale question's distribution, the free-text answers (no names)."""
    counts = await bo.directory.survey_counts(activity_id)
    answers = await asyncio.to_thread(bo.store.survey_answers, activity_id)
    out = []
    for c in counts:
        survey_answers = [json.loads(a.answers_json) for a in answers if a.survey == c["survey"]]
        found = survey_results(c["survey"], c["invited"], survey_answers)
        out.append({**c, "title": found.title, "rate": percent(found.response_rate), "results": found})
    return out
