"""Signing in and out: one-time links (asked for here or printed by `runflow staff link`) and OpenID Connect.

A link is redeemed by a POST from the page it opens, never by the GET itself: mail scanners that follow links
must not use up somebody's sign-in.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.message import EmailMessage

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from activities_impl.store import Store
from api.backoffice.context import ADMIN, BackOffice, local_path, now
from api.backoffice.oidc import OidcSignIn
from api.security import CSP, client_address
from domain.email_address import MAX_EMAIL_LENGTH, InvalidEmail, parse_email
from domain.staff import SIGNIN_LINK_LIFETIME, TokenKind
from domain.tables import StaffMember

log = structlog.get_logger("runflow.backoffice")
LINK_SENT = (
    "Om adressen hör till någon i RUN:s personal har vi skickat en inloggningslänk dit. "
    "Länken gäller i 15 minuter och kan användas en gång."
)
LINK_USED = "Länken har redan använts, har gått ut eller är ogiltig. Be om en ny länk."
TOO_MANY = "Det har kommit för många försök på kort tid. Vänta en stund och försök igen."


def signin_mail(member: StaffMember, link: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, member.email
    message["Subject"] = "Din inloggningslänk till RUN:s administration"
    message.set_content(
        "Hej!\n\n"
        "Här är din länk för att logga in i RUN:s administration:\n\n"
        f"{link}\n\n"
        "Länken gäller i 15 minuter och kan bara användas en gång. "
        "Har du inte bett om den kan du bortse från det här mejlet.\n\n"
        "Vänliga hälsningar\nRUN – Regionalt utvecklingsnätverk\n"
    )
    return message


def new_signin_link(store: Store, base_url: str, member: StaffMember, at: datetime) -> str:
    """A new one-time sign-in link for the member (valid 15 minutes from `at`); the store keeps its digest only.
    Also what `runflow staff link` and `runflow up` print."""
    raw = store.issue_token(member.id, TokenKind.SIGNIN, at, at + SIGNIN_LINK_LIFETIME)
    return f"{base_url.rstrip('/')}{ADMIN}/signin/{raw}"


async def issue_signin_link(backoffice: BackOffice, member: StaffMember) -> str:
    """A new one-time sign-in link for the member (valid 15 minutes); the store keeps its digest only."""
    return await asyncio.to_thread(new_signin_link, backoffice.store, backoffice.config.base_url, member, now())


def signin_router(bo: BackOffice, oidc: OidcSignIn | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def signin_page(request: Request, status: int = 200, error: str = "", sent: bool = False) -> HTMLResponse:
        response = bo.page(
            request,
            "admin/signin.html",
            status,
            title="Logga in",
            next=local_path(request.query_params.get("next")),
            oidc=bo.config.oidc,
            mail_links=bo.config.mailer is not None,
            error=error,
            sent=sent,
        )
        if oidc is not None:  # the button's POST is redirected to the provider: the CSP's form-action must allow it
            targets = " ".join(["'self'", *oidc.form_targets()])
            response.headers["content-security-policy"] = CSP.replace("form-action 'self'", f"form-action {targets}")
        return response

    @router.get("/signin", response_class=HTMLResponse)
    async def signin(request: Request) -> Response:
        if await bo.signed_in(request) is not None:
            return RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
        return signin_page(request)

    @router.post("/signin", response_class=HTMLResponse)
    async def ask_for_link(request: Request) -> Response:
        form = await bo.form(request)
        typed = form.get("email", "")
        try:
            if len(typed) > MAX_EMAIL_LENGTH:
                raise InvalidEmail("too long")
            email = parse_email(typed)
        except InvalidEmail:
            return signin_page(request, 422, "Skriv en giltig e-postadress, till exempel namn@miun.se.")
        for key in (f"client:{client_address(request)}", f"email:{email}"):
            if bo.rate_limits.hit("signin_links", key) is not None:
                return signin_page(request, 429, TOO_MANY)
        member = await asyncio.to_thread(bo.store.staff_by_email, email)
        if member is not None and member.active and bo.config.mailer is not None:
            link = await issue_signin_link(bo, member)
            try:
                await bo.config.mailer.send(signin_mail(member, link, bo.config.mail_sender))
            except Exception as exc:  # noqa: BLE001 - the same answer either way: nothing tells who is staff
                log.warning("sign-in link not mailed", staff_id=member.id, error=type(exc).__name__)
        return signin_page(request, 200, sent=True)  # the same answer for everybody: no list of staff to probe

    @router.get("/signin/{token}", response_class=HTMLResponse)
    async def open_link(request: Request, token: str) -> Response:
        return bo.page(request, "admin/signin_link.html", title="Logga in", token=token[:300])

    @router.post("/signin/{token}", response_class=HTMLResponse)
    async def use_link(request: Request, token: str) -> Response:
        await bo.form(request)
        member = await asyncio.to_thread(bo.store.redeem_signin_link, token, now())
        if member is None:
            return signin_page(request, 410, LINK_USED)
        response = RedirectResponse(f"{ADMIN}/", status_code=303)
        await bo.start_session(request, response, member)
        log.info("signed in", staff_id=member.id, method="link")
        return response

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        await bo.form(request)
        response = RedirectResponse(f"{ADMIN}/signin?utloggad=1", status_code=303)
        await bo.end_session(request, response)
        return response

    return router
