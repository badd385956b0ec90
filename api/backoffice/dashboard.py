"""The overview (`/admin/`): every activity with its phase, confirmed / minimum / places, the next step; those
waiting for a coordinator's decision first, with the time left before the engine cancels.

Built on Temporal's visibility list (one call) and the status query of each running activity (at most
`STATUS_QUERIES_AT_ONCE` at a time, each given `STATUS_QUERY_SECONDS`); activities saved but not started come
from the store. A status that does not answer in time leaves its row with what visibility knows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.backoffice.context import BackOffice, now
from domain.dashboard import NOT_STARTED, PHASE_LABELS, next_step_text, phase_label, term_of, time_left
from domain.lifecycle import ActivityStatus
from domain.phases import Phase
from domain.tables import StaffMember
from domain.texts import when

log = structlog.get_logger("runflow.backoffice")
STATUS_QUERIES_AT_ONCE = 16
STATUS_QUERY_SECONDS = 5.0


@dataclass
class Row:
    id: str
    title: str
    phase: str | None
    focus_area: str
    term: str
    confirmed: int | None = None
    min_participants: int | None = None
    places: int | None = None
    waitlisted: int | None = None
    below_minimum: bool = False
    next_step: str = ""
    next_at: datetime | None = None
    grace_until: datetime | None = None
    first_start: datetime | None = None

    @property
    def deciding(self) -> bool:
        return self.phase == Phase.DECIDING.value

    def view(self, at: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "phase": phase_label(self.phase),
            "deciding": self.deciding,
            "focus_area": self.focus_area,
            "term": self.term,
            "confirmed": "–" if self.confirmed is None else self.confirmed,
            "min_participants": "–" if self.min_participants is None else self.min_participants,
            "places": "–" if self.places is None else self.places,
            "waitlisted": self.waitlisted or 0,
            "below_minimum": self.below_minimum,
            "next_step": self.next_step,
            "next_at": when(self.next_at) if self.next_at else "",
            "time_left": time_left(self.grace_until, at) if self.deciding and self.grace_until else "",
        }


async def overview_rows(bo: BackOffice) -> tuple[list[Row], bool]:
    """Every activity the office has: started ones from Temporal, saved-but-not-started ones from the store; and
    whether Temporal's visibility list answered (without it, each stored activity's status is asked for)."""
    activities = {a.id: a for a in await bo.directory.activities()}
    listed: list[dict[str, Any]] = []
    visible = True
    if bo.service is not None:
        try:
            listed = await bo.service.list()
        except Exception as exc:  # noqa: BLE001 - visibility down (or a server without it): ask each activity
            log.warning("visibility list failed", error=type(exc).__name__)
            visible = False
    rows: dict[str, Row] = {}
    for item in listed:
        stored = activities.get(item["id"])
        first = datetime.fromisoformat(item["first_session_start"]) if item["first_session_start"] else None
        rows[item["id"]] = Row(
            id=item["id"],
            title=stored.title if stored else item["id"],
            phase=item["phase"],
            focus_area=item["focus_area"] or (stored.focus_area if stored else ""),
            term=term_of(first) if first else "",
            confirmed=item["confirmed"],
            below_minimum=bool(item["below_minimum"]) and item["phase"] in (Phase.PLANNED, Phase.OPEN, Phase.DECIDING),
            first_start=first,
        )
    gate = asyncio.Semaphore(STATUS_QUERIES_AT_ONCE)

    async def fill(row: Row) -> None:
        assert bo.service is not None
        async with gate:
            try:
                async with asyncio.timeout(STATUS_QUERY_SECONDS):
                    status = await bo.service.status(row.id)
            except Exception:  # noqa: BLE001 - the row keeps what visibility knows
                return
        apply_status(row, status)

    for activity_id, stored in activities.items():
        if activity_id not in rows:
            latest = await asyncio.to_thread(bo.store.latest_plan, activity_id)  # a draft has no current version
            plan = latest[1] if latest else None
            first = plan.sessions[0].start if plan and plan.sessions else None
            rows[activity_id] = Row(
                id=activity_id,
                title=plan.title if plan else stored.title,
                phase=None,
                focus_area=stored.focus_area,
                term=term_of(first) if first else "",
                min_participants=plan.min_participants if plan else None,
                places=plan.places if plan else None,
                first_start=first,
            )
    asked = [r for r in rows.values() if (r.phase is None and not visible) or (r.phase and not Phase(r.phase).ended)]
    await asyncio.gather(*(fill(r) for r in asked))
    return list(rows.values()), visible


def apply_status(row: Row, status: ActivityStatus) -> None:
    row.phase = status.phase.value
    row.confirmed, row.waitlisted = status.confirmed, status.waitlisted
    row.min_participants, row.places = status.min_participants, status.capacity
    row.below_minimum = status.phase.before_start and status.confirmed < status.min_participants
    row.grace_until = status.grace_until
    if status.next_due is not None:
        row.next_step, row.next_at = next_step_text(status.next_due.what), status.next_due.at


def ordered(rows: list[Row]) -> list[Row]:
    """Waiting for a decision first (least time left first), then by first session, the ended last."""
    far = datetime.max.replace(tzinfo=None)

    def key(row: Row) -> tuple[int, str, str]:
        ended = row.phase is not None and Phase(row.phase).ended
        group = 0 if row.deciding else (2 if ended else 1)
        first = row.grace_until if row.deciding else row.first_start
        return group, first.isoformat() if first else far.isoformat(), row.title

    return sorted(rows, key=key)


def dashboard_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def dashboard(request: Request, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        rows, visible = await overview_rows(bo)
        phases = {phase_label(p.value): p.value for p in Phase} | {NOT_STARTED: "not_started"}
        focus_areas = sorted({r.focus_area for r in rows if r.focus_area})
        terms = sorted({r.term for r in rows if r.term}, key=lambda t: (t[3:], t[:2] == "HT"))
        chosen = {k: request.query_params.get(k, "")[:100] for k in ("phase", "focus_area", "term")}
        shown = [
            r
            for r in rows
            if (not chosen["phase"] or (r.phase or "not_started") == chosen["phase"])
            and (not chosen["focus_area"] or r.focus_area == chosen["focus_area"])
            and (not chosen["term"] or r.term == chosen["term"])
        ]
        at = now()
        views = [r.view(at) for r in ordered(shown)]
        return bo.page(
            request,
            "admin/dashboard.html",
            member=member,
            title="Översikt",
            rows=views,
            deciding=[v for v in views if v["deciding"]],
            phases=phases,
            phase_labels=PHASE_LABELS,
            focus_areas=focus_areas,
            terms=terms,
            chosen=chosen,
            total=len(rows),
            visible=visible,
        )

    return router
