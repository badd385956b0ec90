"""The office's log (`/admin/logg`): changes made in the back-office that belong to no activity (the invitation
contacts, personal API tokens), newest first, with who made them. An activity's own log is on its page."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.backoffice.activity_page import who
from api.backoffice.context import OFFICE, BackOffice
from domain.tables import StaffMember
from domain.texts import when

SHOWN = 500  # the newest entries; the rest stay in the store


def office_log_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/logg", response_class=HTMLResponse)
    async def office_log(request: Request, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        entries = await asyncio.to_thread(bo.store.audit_log, OFFICE)
        staff = {m.id: m for m in await asyncio.to_thread(bo.store.staff_members)}
        rows = [{"at": when(e.at), "what": e.reason, "who": who(e.by, staff)} for e in reversed(entries[-SHOWN:])]
        return bo.page(request, "admin/office_log.html", member=member, title="Logg", rows=rows)

    return router
