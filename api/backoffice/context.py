"""What every back-office page shares: who is signed in, the role check, CSRF-checked forms, page rendering.

Sessions: the cookie holds a random token signed with the deployment's key (HttpOnly, SameSite=Lax, Secure behind
TLS, path /admin); the store keeps the token's digest with its expiry, so signing out or deactivating a member
ends the session at once. Anonymous visitors are sent to the sign-in page (303); a viewer's attempt to change
anything gets 403; a form without a valid CSRF token gets 403 and changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from activities_impl.store import Store
from api.backoffice.config import BackOfficeConfig
from api.directory import Directory
from api.security import CSRF_FIELD, Csrf, RateLimits
from api.service import Service
from domain.signed_links import sign, verify
from domain.staff import ROLE_LABELS, Role, TokenKind, audit_by, may_change
from domain.tables import StaffMember

SESSION_COOKIE = "runflow_staff"
OFFICE = ""  # the audit log's activity id for changes that belong to no activity (contacts, API tokens)
ADMIN = "/admin"
FORM_EXPIRED = "Formuläret har gått ut eller kom från en annan webbplats. Ladda om sidan och försök igen."


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class NotAllowed(Exception):
    """A viewer (read-only) tried to change something."""


class FormRefused(Exception):
    """A POST without a valid CSRF token."""


def now() -> datetime:
    return datetime.now(UTC)


def local_path(candidate: str | None) -> str:
    """Where to go after signing in: a path of the back-office only (never another site: no open redirect)."""
    safe = (
        candidate is not None
        and len(candidate) <= 500
        and candidate.startswith(f"{ADMIN}/")
        and "//" not in candidate
        and "\\" not in candidate
        and all(ch.isprintable() and ch != " " for ch in candidate)
    )
    return candidate if safe and candidate is not None else f"{ADMIN}/"


class BackOffice:
    def __init__(
        self,
        store: Store,
        directory: Directory,
        service: Service | None,
        templates: Jinja2Templates,
        csrf: Csrf,
        secret_key: str,
        config: BackOfficeConfig,
    ) -> None:
        self.store, self.directory, self.service, self.templates = store, directory, service, templates
        self.csrf, self.config = csrf, config
        self._secret_key = secret_key
        self._session_key = "runflow staff session\0" + secret_key
        self.rate_limits = RateLimits({"signin_links": config.rate_limit_signin_links})

    def derived_key(self, purpose: str) -> str:
        """A key of its own for `purpose` (e.g. the OpenID Connect round trip's cookie), from the deployment's."""
        return hashlib.sha256(f"runflow {purpose}\0{self._secret_key}".encode()).hexdigest()

    # -- who is signed in -------------------------------------------------
    async def signed_in(self, request: Request) -> StaffMember | None:
        cached = request.scope.get("runflow.staff", False)
        if cached is not False:
            return cached  # type: ignore[no-any-return]
        member = None
        raw = verify(request.cookies.get(SESSION_COOKIE, "")[:300], self._session_key)
        if raw is not None:
            member = await asyncio.to_thread(self.store.token_holder, raw, TokenKind.SESSION, now())
        request.scope["runflow.staff"] = member
        return member

    async def staff(self, request: Request) -> StaffMember:
        """Dependency: the signed-in member; anonymous visitors are sent to sign in."""
        member = await self.signed_in(request)
        if member is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(path)
        return member

    async def coordinator(self, request: Request) -> StaffMember:
        """Dependency: the signed-in member, who must be allowed to change things (role coordinator)."""
        member = await self.staff(request)
        if not may_change(member.role):
            raise NotAllowed()
        return member

    async def start_session(self, request: Request, response: Response, member: StaffMember) -> None:
        lifetime = self.config.session_lifetime
        raw = await asyncio.to_thread(self.store.issue_token, member.id, TokenKind.SESSION, now(), now() + lifetime)
        response.set_cookie(
            SESSION_COOKIE,
            sign(raw, self._session_key),
            max_age=int(lifetime.total_seconds()),
            path=ADMIN,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    async def end_session(self, request: Request, response: Response) -> None:
        raw = verify(request.cookies.get(SESSION_COOKIE, "")[:300], self._session_key)
        if raw is not None:
            await asyncio.to_thread(self.store.revoke_token, raw, now())
        response.delete_cookie(SESSION_COOKIE, path=ADMIN, httponly=True, samesite="lax")

    # -- forms ------------------------------------------------------------
    async def form(self, request: Request) -> dict[str, str]:
        """The posted fields of a CSRF-checked form (FormRefused otherwise), the last value of each."""
        fields, _ = await self.form_with_lists(request)
        return fields

    async def form_with_lists(self, request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The posted fields, the last value of each and every value of each (ticked boxes share a name)."""
        form = await request.form(max_files=0, max_fields=2000)
        if not self.csrf.check(request, form.get(CSRF_FIELD)):
            raise FormRefused()
        single = {k: v for k, v in form.items() if isinstance(v, str)}
        lists: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                lists.setdefault(key, []).append(value)
        return single, lists

    async def upload(self, request: Request, field: str) -> tuple[dict[str, str], bytes | None, str]:
        """A CSRF-checked form with one file: the text fields, the file's bytes (None when none was sent) and name.
        The body was capped by the BodyLimit middleware before this reads it."""
        form = await request.form(max_files=1, max_fields=50)
        if not self.csrf.check(request, form.get(CSRF_FIELD)):
            raise FormRefused()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get(field)
        if isinstance(upload, UploadFile) and upload.filename:
            return fields, await upload.read(), upload.filename[:200]
        return fields, None, ""

    async def audit(self, activity_id: str, member: StaffMember, kind: str, reason: str, **details: Any) -> None:
        """Record a change made in the back-office, by the member's opaque id (`OFFICE` for no activity)."""
        at = now()
        await asyncio.to_thread(
            self.store.audit,
            key=f"backoffice:{member.id}:{kind}:{secrets.token_hex(8)}",
            activity_id=activity_id,
            at=at,
            kind=kind,
            by=audit_by(member.id),
            reason=reason,
            details=details,
        )

    # -- pages ------------------------------------------------------------
    def page(
        self, request: Request, name: str, status: int = 200, *, member: StaffMember | None = None, **context: Any
    ) -> HTMLResponse:
        context.setdefault("title", "Administration")
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                "member": member,
                "role_label": ROLE_LABELS.get(Role(member.role), member.role) if member else "",
                "can_change": member is not None and may_change(member.role),
                "csrf_token": self.csrf.token(request),
                **context,
            },
            status_code=status,
        )
        self.csrf.set_cookie(request, response)
        return response

    def message(
        self,
        request: Request,
        title: str,
        lines: list[str],
        status: int = 200,
        tone: str = "",
        *,
        member: StaffMember | None = None,
        back: str | None = None,
        back_text: str = "Tillbaka",
    ) -> HTMLResponse:
        return self.page(
            request,
            "admin/message.html",
            status,
            member=member,
            title=title,
            lines=lines,
            tone=tone,
            back=back,
            back_text=back_text,
        )

    def install(self, app: FastAPI) -> None:
        """The answers to anonymous visitors, viewers changing things and forms without a CSRF token."""

        @app.exception_handler(SignInRequired)
        async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
            return RedirectResponse(f"{ADMIN}/signin?next={quote(exc.next_path, safe='/')}", status_code=303)

        @app.exception_handler(NotAllowed)
        async def not_allowed(request: Request, exc: NotAllowed) -> Response:
            member = await self.signed_in(request)
            return self.message(
                request,
                "Du saknar behörighet",
                ["Ditt konto har läsbehörighet. Be en samordnare om du behöver ändra något."],
                403,
                "bad",
                member=member,
                back=f"{ADMIN}/",
                back_text="Till översikten",
            )

        @app.exception_handler(FormRefused)
        async def form_refused(request: Request, exc: FormRefused) -> Response:
            member = await self.signed_in(request)
            return self.message(request, "Formuläret har gått ut", [FORM_EXPIRED], 403, "bad", member=member)
