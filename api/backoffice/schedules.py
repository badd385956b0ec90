"""Recurring rounds in the back-office (`/admin/schedules`): every template's schedule with how often it makes a
round, its next firings in Swedish time, whether it is paused (and why), and the last round it started; coordinators
pause and resume them here (viewers read). Schedules are created with `runflow schedule create` (`api.schedules`).

Each pause and resume is in the store's audit log under the template's activity id, by the member's opaque id; the
note typed goes to Temporal as plain text, so it is one line, short, and without an e-mail address.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.backoffice.context import ADMIN, BackOffice
from api.schedules import MAX_NOTE, RoundSchedule, RoundSchedules, ScheduleRefused
from domain.control_characters import control_character
from domain.rounds import day_swedish, template_of
from domain.tables import StaffMember
from domain.texts import when

log = structlog.get_logger("runflow.backoffice")

TEMPORAL_SECONDS = 10.0  # listing and describing the schedules
FLASH = {  # ?klart= after a change
    "pausat": "Schemat är pausat. Inga nya omgångar startar förrän det återupptas.",
    "aterupptaget": "Schemat är återupptaget. Nästa omgång startar enligt schemat.",
}
UNREACHABLE = "Det gick inte att nå Temporal just nu. Försök igen om en stund."


def note_problem(note: str) -> str | None:
    """Why a typed note cannot go to Temporal, in Swedish; None when it can."""
    if len(note) > MAX_NOTE:
        return f"Skriv högst {MAX_NOTE} tecken."
    if control_character(note):
        return "Skriv anledningen på en rad."
    if "@" in note:
        return "Skriv ingen e-postadress: anledningen syns i Temporal utan kryptering."
    return None


def row(view: RoundSchedule) -> dict[str, Any]:
    last = view.last_round
    return {
        "id": view.schedule_id,
        "template_id": view.template_id,
        "title": view.title or view.template_id,
        "known_template": view.title is not None,
        "how_often": view.recurrence.swedish() if view.recurrence else "enligt ett schema som ändrats i Temporal",
        "next": [day_swedish(t) for t in view.next_runs],  # a round's times come from its template, its day from here
        "paused": view.paused,
        "note": view.note,
        "last": (
            {
                "round_id": last.round_id,
                "fired": when(last.started_at.replace(microsecond=0, second=0)),
                "made": last.made,
            }
            if last is not None
            else None
        ),
    }


def schedules_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def schedules() -> RoundSchedules | None:
        service = bo.service
        return RoundSchedules(service.client, service.store, service.task_queue) if service is not None else None

    def unreachable(request: Request, member: StaffMember) -> HTMLResponse:
        return bo.message(request, "Återkommande omgångar", [UNREACHABLE], 503, "bad", member=member, back=f"{ADMIN}/")

    @router.get("/schedules", response_class=HTMLResponse)
    async def schedules_page(request: Request, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        found = schedules()
        if found is None:
            return unreachable(request, member)
        try:
            views = await asyncio.wait_for(found.list(), TEMPORAL_SECONDS)
        except Exception as exc:  # noqa: BLE001 - Temporal away or slow: say so, never a stack trace
            log.warning("schedules not listed", error=type(exc).__name__)
            return unreachable(request, member)
        flash = FLASH.get(request.query_params.get("klart", "")[:20], "")
        return bo.page(
            request,
            "admin/schedules.html",
            member=member,
            title="Återkommande omgångar",
            rows=[row(v) for v in views],
            flash=flash,
            max_note=MAX_NOTE,
        )

    async def change(request: Request, schedule_id: str, member: StaffMember, pause: bool) -> Response:
        fields = await bo.form(request)
        template = template_of(schedule_id[:100])
        found = schedules()
        if template is None:
            return bo.message(
                request, "Schemat finns inte", ["Det finns inget sådant schema."], 404, "bad", member=member
            )
        if found is None:
            return unreachable(request, member)
        note = fields.get("note", "")
        problem = note_problem(note)
        if problem is not None:
            return bo.message(
                request,
                "Anledningen går inte att spara",
                [problem],
                422,
                "bad",
                member=member,
                back=f"{ADMIN}/schedules",
                back_text="Tillbaka till schemana",
            )
        note = note.strip()
        try:
            if pause:
                await asyncio.wait_for(found.pause(schedule_id, note or "Pausad i administrationen"), TEMPORAL_SECONDS)
            else:
                await asyncio.wait_for(
                    found.resume(schedule_id, note or "Återupptagen i administrationen"), TEMPORAL_SECONDS
                )
        except ScheduleRefused:
            return bo.message(
                request, "Schemat finns inte", ["Det finns inget sådant schema."], 404, "bad", member=member
            )
        except Exception as exc:  # noqa: BLE001 - Temporal away or slow
            log.warning("schedule not changed", error=type(exc).__name__)
            return unreachable(request, member)
        what = "Schemat pausat" if pause else "Schemat återupptaget"
        await bo.audit(
            template,
            member,
            "schedule_paused" if pause else "schedule_resumed",
            f"{what}: {note}" if note else what,
            schedule_id=schedule_id,
        )
        return RedirectResponse(f"{ADMIN}/schedules?klart={'pausat' if pause else 'aterupptaget'}", status_code=303)

    @router.post("/schedules/{schedule_id}/pause")
    async def pause(request: Request, schedule_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        return await change(request, schedule_id, member, pause=True)

    @router.post("/schedules/{schedule_id}/resume")
    async def resume(request: Request, schedule_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        return await change(request, schedule_id, member, pause=False)

    return router
