"""Personal API tokens (`/admin/tokens`): each member lists, creates and revokes their own.

A token stands for its holder in the coordinators' JSON API (`/api`, `Authorization: Bearer rfp_…`), with the
holder's role: a viewer's token reads only. It is shown once, when it is made; the store keeps its digest. Making
and revoking one is logged with the member's opaque id (in the office's audit log (`/admin/logg`), not an activity's).
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.backoffice.context import ADMIN, OFFICE, BackOffice, now
from domain.control_characters import control_character
from domain.staff import MAX_TOKEN_LABEL, TokenKind
from domain.tables import StaffMember, StaffToken
from domain.texts import when

log = structlog.get_logger("runflow.backoffice")

MAX_ID = 2**31 - 1  # the column is an INTEGER: a larger id is no token of anybody's
FLASH = {"aterkallad": "Nyckeln är återkallad och fungerar inte längre."}
NOT_REVOKED = "Nyckeln finns inte bland dina aktiva nycklar. Den kan redan vara återkallad."


def label_problem(label: str) -> str | None:
    """Why a label cannot be kept (Swedish), or None."""
    if len(label) > MAX_TOKEN_LABEL:
        return f"Namnet får vara högst {MAX_TOKEN_LABEL} tecken."
    if control_character(label):
        return "Namnet innehåller ett otillåtet tecken (till exempel ett styrtecken). Skriv det med vanliga tecken."
    if not label.strip():
        return "Ge nyckeln ett namn, till exempel det skript eller program som ska använda den."
    return None


def token_row(token: StaffToken) -> dict[str, object]:
    return {
        "id": token.id,
        "label": token.label or "",
        "created": when(token.created_at),
        "used": when(token.used_at) if token.used_at else "Aldrig",
        "revoked": when(token.revoked_at) if token.revoked_at else "",
    }


def tokens_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def tokens_page(
        request: Request, member: StaffMember, status: int = 200, error: str = "", label: str = ""
    ) -> HTMLResponse:
        tokens = await asyncio.to_thread(bo.store.api_tokens, member.id)
        return bo.page(
            request,
            "admin/tokens.html",
            status,
            member=member,
            title="API-nycklar",
            tokens=[token_row(t) for t in tokens],
            error=error,
            invalid=status == 422,
            label=label,
            flash=FLASH.get(request.query_params.get("klart", "")),
            max_label=MAX_TOKEN_LABEL,
        )

    @router.get("/tokens", response_class=HTMLResponse)
    async def tokens(request: Request, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        return await tokens_page(request, member)

    @router.post("/tokens", response_class=HTMLResponse)
    async def create(request: Request, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        form = await bo.form(request)
        label = form.get("label", "")
        problem = label_problem(label)
        if problem is not None:
            return await tokens_page(request, member, 422, problem, label[:MAX_TOKEN_LABEL])
        label = label.strip()
        raw = await asyncio.to_thread(bo.store.issue_token, member.id, TokenKind.API, now(), None, label)
        await bo.audit(OFFICE, member, "api_token_created", "Personlig API-nyckel skapad")
        log.info("api token created", staff_id=member.id)
        response = bo.page(
            request, "admin/token_created.html", member=member, title="Ny API-nyckel", token=raw, label=label
        )
        response.headers["cache-control"] = "no-store"  # shown once: not kept by the browser or a proxy
        return response

    @router.post("/tokens/{token_id}/revoke")
    async def revoke(
        request: Request, token_id: int = Path(ge=1, le=MAX_ID), member: StaffMember = Depends(bo.staff)
    ) -> Response:
        await bo.form(request)
        revoked = await asyncio.to_thread(bo.store.revoke_api_token, member.id, token_id, now())
        if not revoked:
            return await tokens_page(request, member, 404, NOT_REVOKED)
        await bo.audit(OFFICE, member, "api_token_revoked", "Personlig API-nyckel återkallad", token_id=token_id)
        log.info("api token revoked", staff_id=member.id, token_id=token_id)
        return RedirectResponse(f"{ADMIN}/tokens?klart=aterkallad", status_code=303)

    return router
