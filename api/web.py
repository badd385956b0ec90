"""The participant-facing web: activity page and registration, withdrawal link, surveys.

Works without JavaScript. Registrations and withdrawals go through the
workflow's Updates (via `Service`); survey answers go to the store, without
the participant's name.

Hostile input is normal input (`api/security.py`): security headers on every
response, request bodies capped per path prefix (413), a CSRF token in every
public form (403 without it), public POSTs rate-limited per client address and
registrations also per activity (429), and every form field length-limited
before it is parsed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.types import ASGIApp
from temporalio.converter import PayloadCodec

from activities_impl import calendar as ics
from activities_impl.store import Store, StoreError
from api.backoffice import BackOffice, BackOfficeConfig, mount_backoffice
from api.codec_server import codec_router
from api.coordinator_api import coordinator_router
from api.directory import Directory
from api.security import (
    CSRF_FIELD,
    BodyLimit,
    BodyTooLarge,
    Csrf,
    RateLimits,
    SecurityHeaders,
    client_address,
    too_large,
)
from api.service import Refused, Service, Unconfirmed
from domain.control_characters import control_character
from domain.email_address import MAX_EMAIL_LENGTH, InvalidEmail, parse_email
from domain.lifecycle import SeatStatus
from domain.phases import Phase
from domain.plan import ActivityPlan
from domain.reference import default_reference
from domain.signed_links import verify
from domain.surveys import SCALE, questions, validate_answers
from domain.tables import Participant, Registration, SurveyInvitation
from domain.texts import refusal_text, survey_text, when
from worker.settings import Settings

CLOSED_TEXTS = {
    Phase.PLANNED: "Anmälan har inte öppnat än.",
    Phase.CANCELLED: "Aktiviteten är inställd.",
}
# Form fields: the most characters each may have, checked before anything else is done with it.
MAX_NAME = 200
MAX_SCHOOL = 200
MAX_TEAM_MEMBERS = 5000  # the whole field
MAX_TEAM_MEMBER = 200  # each name in it
MAX_CHOICE = 100  # organisation and role (chosen from a list)
FORM_EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."
TOO_MANY_REGISTRATIONS = "Det har kommit för många anmälningar från din adress på kort tid. Försök igen om en stund."
TOO_MANY_FOR_ACTIVITY = "Det har kommit för många anmälningar till aktiviteten på kort tid. Försök igen om en stund."
TOO_MANY_POSTS = "Det har kommit för många försök från din adress på kort tid. Försök igen om en stund."
SURVEY_REFUSALS = {  # store refusal code -> (HTTP status, heading)
    "unknown": (404, "Länken är ogiltig"),
    "answered": (409, "Enkäten är redan besvarad"),
    "closed": (410, "Enkäten är stängd"),
}


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, so that even a 500 carries the security headers.
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    store: Store,
    service: Service | None = None,
    *,
    secret_key: str | None = None,
    coordinator_api_token: str | None = None,
    codec: PayloadCodec | None = None,
    codec_token: str | None = None,
    codec_cors_origins: Iterable[str] = (),
    max_body_forms: int = _default("max_body_forms"),
    max_body_api: int = _default("max_body_api"),
    max_body_codec: int = _default("max_body_codec"),
    rate_limit_registrations_per_address: str = _default("rate_limit_registrations_per_address"),
    rate_limit_registrations_per_activity: str = _default("rate_limit_registrations_per_activity"),
    rate_limit_public_posts_per_address: str = _default("rate_limit_public_posts_per_address"),
    backoffice: BackOfficeConfig | None = None,
    max_body_admin: int = 2 * 1024 * 1024,
) -> FastAPI:
    # No default key: without one, links are signed with a key of this app alone (nothing signed elsewhere
    # verifies, nothing can be forged). The processes refuse to start without RUNFLOW_SECRET_KEY anyway.
    secret_key = secret_key or secrets.token_urlsafe(32)
    directory = Directory(store)  # the store's side of the service layer: pages never reach into the store
    app = _App(title="runflow", description="RUN:s aktiviteter: anmälan, enkäter och samordnarnas API.")
    env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))
    templates = Jinja2Templates(env=env)
    caps = {"/api": max_body_api, "/codec": max_body_codec, "/admin": max_body_admin}
    app.add_middleware(BodyLimit, caps=caps, default=max_body_forms)
    app.mount("/static", StaticFiles(packages=[("api", "static")]), name="static")
    csrf = Csrf(secret_key)
    rate_limits = RateLimits(
        {
            "registrations_per_address": rate_limit_registrations_per_address,
            "registrations_per_activity": rate_limit_registrations_per_activity,
            "public_posts_per_address": rate_limit_public_posts_per_address,
        }
    )

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        response = templates.TemplateResponse(request, name, context, status_code=status)
        csrf.set_cookie(request, response)  # when the page's form got a token for a new cookie
        return response

    def message(
        request: Request,
        title: str,
        lines: list[str],
        status: int = 200,
        tone: str = "",
        back: str | None = None,
        back_text: str = "Tillbaka till aktiviteten",
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        response = page(
            request, "message.html", status, title=title, lines=lines, tone=tone, back=back, back_text=back_text
        )
        response.headers.update(headers or {})
        return response

    async def posted_form(request: Request) -> dict[str, str]:
        """The submitted fields (a body over the cap has been refused with 413 by then; no file uploads)."""
        form = await request.form(max_files=0, max_fields=50)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def refused(
        request: Request, form: dict[str, str], limit: str | None, *keys: str, back: str, back_text: str
    ) -> HTMLResponse | None:
        """403 for a form without a valid CSRF token (or from another site), 429 over the rate limit `limit`
        (None: counted later by the caller); else None. Only attempts that pass the CSRF check count."""
        if not csrf.check(request, form.get(CSRF_FIELD)):
            return message(
                request, "Formuläret har gått ut", [FORM_EXPIRED], 403, "bad", back=back, back_text=back_text
            )
        return over_limit(request, limit, *keys) if limit is not None else None

    def over_limit(request: Request, limit: str, *keys: str) -> HTMLResponse | None:
        retry_after = rate_limits.hit(limit, *keys)
        if retry_after is not None:
            sentence = TOO_MANY_REGISTRATIONS if limit == "registrations_per_address" else TOO_MANY_POSTS
            return message(
                request, "För många försök", [sentence], 429, "bad", headers={"Retry-After": str(retry_after)}
            )
        return None

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> Response:
        return too_large(request.url.path, exc.cap)

    async def load_plan(activity_id: str) -> ActivityPlan | None:
        return await directory.plan(activity_id)

    async def activity_page(
        request: Request,
        plan: ActivityPlan,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> HTMLResponse:
        phase, places_left = None, None
        if service is not None:
            try:
                current = await service.status(plan.id)
                phase, places_left = current.phase, max(0, current.capacity - current.confirmed)
            except Exception:  # noqa: BLE001 - the page still shows the plan when Temporal is unreachable
                pass
        closed_text = (
            CLOSED_TEXTS.get(phase, "Anmälan är stängd.")
            if phase is not None
            else "Anmälan är inte tillgänglig just nu. Försök igen om en stund."
        )
        return page(
            request,
            "activity.html",
            status,
            title=plan.title,
            plan=plan,
            places_left=places_left,
            csrf_token=csrf.token(request),
            deadline=when(plan.registration.deadline),
            open=phase is Phase.OPEN,
            closed_text=closed_text,
            sessions=[{"when": when(s.start, s.end), "where": ics.location_text(s)} for s in plan.sessions],
            organisations=await directory.organisations(),
            roles=default_reference().target_groups,
            errors=errors or {},
            values=values or {},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422, without echoing what was sent (`input`, `ctx`): it may be huge, or somebody's address."""
        errors = [
            {key: value for key, value in error.items() if key in ("type", "loc", "msg")} for error in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Unconfirmed)
    async def unconfirmed(request: Request, exc: Unconfirmed) -> Response:
        """The workflow did not answer in time (e.g. a burst beyond what the server takes at once)."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        return message(
            request,
            "Vi fick inget svar i tid",
            [
                "Det du skickade kan ändå ha tagits emot. Får du ett bekräftelsemejl inom några minuter är allt klart;",
                "annars, försök igen om en stund.",
            ],
            503,
            "bad",
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/tillganglighet", response_class=HTMLResponse, include_in_schema=False)
    async def accessibility_statement(request: Request) -> HTMLResponse:
        """The accessibility statement the Swedish law on accessible digital public services asks for."""
        return page(request, "tillganglighet.html", title="Tillgänglighetsredogörelse")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        # Published activities only: a plan saved in the back-office but not started has no public page yet.
        activities = [a for a in await directory.activities() if a.current_version > 0]
        return page(request, "index.html", title="Aktiviteter", activities=activities)

    @app.get("/a/{activity_id}", response_class=HTMLResponse, include_in_schema=False)
    async def show_activity(request: Request, activity_id: str) -> HTMLResponse:
        plan = await load_plan(activity_id)
        if plan is None:
            return message(request, "Aktiviteten finns inte", ["Kontrollera länken."], 404, "bad")
        return await activity_page(request, plan)

    @app.post("/a/{activity_id}", response_class=HTMLResponse, include_in_schema=False)
    async def register(request: Request, activity_id: str) -> HTMLResponse:
        form = await posted_form(request)
        answer = refused(request, form, None, back=f"/a/{activity_id}", back_text="Tillbaka till anmälan")
        if answer is not None:
            return answer
        plan = await load_plan(activity_id)
        if plan is None:
            return message(request, "Aktiviteten finns inte", ["Kontrollera länken."], 404, "bad")
        errors, fields = registration_errors(plan, form, await directory.organisation_ids())
        if errors:
            return await activity_page(request, plan, 422, errors, {k: v for k, v in form.items() if k != CSRF_FIELD})
        # Only well-formed registrations count: a typo corrected and sent again costs nobody a place in the limit.
        answer = over_limit(request, "registrations_per_address", client_address(request))
        if answer is not None:
            return answer
        retry_after = rate_limits.hit("registrations_per_activity", activity_id)
        if retry_after is not None:
            return message(
                request,
                "För många anmälningar",
                [TOO_MANY_FOR_ACTIVITY],
                429,
                "bad",
                headers={"Retry-After": str(retry_after)},
            )
        if service is None:
            return message(request, "Anmälan är inte tillgänglig", ["Försök igen om en stund."], 503, "bad")
        try:
            result = await service.register(activity_id, **fields)
        except Refused as exc:
            return message(
                request,
                "Anmälan kunde inte tas emot",
                [refusal_text(exc.code, exc.details)],
                409,
                "bad",
                back=f"/a/{activity_id}",
            )
        if result.status is SeatStatus.CONFIRMED:
            lines = [
                f"Du har fått en plats på {plan.title}.",
                "En bekräftelse med kalenderfil och länk för avanmälan skickas till din e-post.",
            ]
        else:
            lines = [
                f"Alla platser är fyllda. Du står på reservlistan som nummer {result.waitlist_position}.",
                "Blir en plats ledig får du den automatiskt och ett mejl om det.",
            ]
        return message(request, "Tack för din anmälan", lines, 200, "ok", back=f"/a/{activity_id}")

    async def withdrawal_target(token: str) -> tuple[Registration, Participant] | None:
        registration_id = verify(token, secret_key)
        if registration_id is None:
            return None
        return await directory.registration(registration_id)

    @app.get("/w/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def confirm_withdrawal(request: Request, token: str) -> HTMLResponse:
        found = await withdrawal_target(token)
        if found is None:
            return message(request, "Länken är ogiltig", ["Kontrollera att hela länken kom med."], 404, "bad")
        registration, participant = found
        if registration.status not in (SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value):
            return message(request, "Anmälan är redan avslutad", ["Du behöver inte göra något mer."], 409)
        plan = await directory.plan(registration.activity_id)
        who = "ditt lag" if registration.team_size > 1 else "dig"
        return page(
            request, "withdraw.html", title="Avanmälan", plan=plan, token=token, who=who, csrf_token=csrf.token(request)
        )

    @app.post("/w/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def withdraw(request: Request, token: str) -> HTMLResponse:
        form = await posted_form(request)
        answer = refused(
            request,
            form,
            "public_posts_per_address",
            client_address(request),
            back=f"/w/{token}",
            back_text="Tillbaka till avanmälan",
        )
        if answer is not None:
            return answer
        found = await withdrawal_target(token)
        if found is None:
            return message(request, "Länken är ogiltig", ["Kontrollera att hela länken kom med."], 404, "bad")
        registration, _ = found
        if service is None:
            return message(request, "Avanmälan är inte tillgänglig", ["Försök igen om en stund."], 503, "bad")
        try:
            await service.withdraw_registration(registration.id)
        except Refused as exc:
            return message(
                request, "Avanmälan kunde inte genomföras", [refusal_text(exc.code, exc.details)], 409, "bad"
            )
        return message(
            request,
            "Du är avanmäld",
            ["Tack för att du meddelade oss. En bekräftelse skickas till din e-post."],
            200,
            "ok",
        )

    async def survey_context(token: str) -> tuple[SurveyInvitation, ActivityPlan] | None:
        invitation = await directory.survey_invitation(token)
        if invitation is None:
            return None
        plan = await directory.plan(invitation.activity_id)
        return (invitation, plan) if plan is not None else None

    def survey_refusal(request: Request, code: str) -> HTMLResponse:
        status, title = SURVEY_REFUSALS.get(code, (409, "Svaret kunde inte tas emot"))
        lines = {
            "answered": ["Tack, vi har redan fått ditt svar."],
            "closed": ["Tiden för att svara har gått ut."],
        }.get(code, ["Kontrollera att hela länken kom med."])
        return message(request, title, lines, status, "bad")

    @app.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def show_survey(request: Request, token: str) -> HTMLResponse:
        found = await survey_context(token)
        if found is None:
            return survey_refusal(request, "unknown")
        invitation, plan = found
        if invitation.answered_at is not None:
            return survey_refusal(request, "answered")
        if invitation.closed or _now() >= invitation.closes_at:
            return survey_refusal(request, "closed")
        return survey_page(request, invitation, plan, token)

    def survey_page(
        request: Request,
        invitation: SurveyInvitation,
        plan: ActivityPlan,
        token: str,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> HTMLResponse:
        title, _ = survey_text(invitation.survey)
        return page(
            request,
            "survey.html",
            status,
            title=title,
            survey_title=title,
            plan=plan,
            token=token,
            csrf_token=csrf.token(request),
            closes=when(invitation.closes_at),
            questions=questions(invitation.survey),
            scale=SCALE,
            errors=errors or {},
            values=values or {},
        )

    @app.post("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def answer_survey(request: Request, token: str) -> HTMLResponse:
        form = await posted_form(request)
        answer = refused(
            request,
            form,
            "public_posts_per_address",
            client_address(request),
            back=f"/s/{token}",
            back_text="Tillbaka till enkäten",
        )
        if answer is not None:
            return answer
        found = await survey_context(token)
        if found is None:
            return survey_refusal(request, "unknown")
        invitation, plan = found
        answers, errors = validate_answers(invitation.survey, form)
        if errors:
            return survey_page(
                request, invitation, plan, token, 422, errors, {k: v for k, v in form.items() if k != CSRF_FIELD}
            )
        try:
            await directory.answer_survey(token, answers)
        except StoreError as exc:
            return survey_refusal(request, exc.code)
        return message(
            request, "Tack för dina svar!", ["Dina svar hjälper oss att utveckla RUN:s aktiviteter."], 200, "ok"
        )

    # The back-office (/admin): sign-in with one-time links or OpenID Connect, overview, activity pages, forms.
    mount_backoffice(
        app, BackOffice(store, directory, service, templates, csrf, secret_key, backoffice or BackOfficeConfig())
    )
    if service is not None:
        app.include_router(coordinator_router(service, directory, coordinator_api_token), prefix="/api")
    if codec is not None:  # the codec server for the Temporal UI and CLI (api/codec_server.py)
        app.include_router(codec_router(codec, codec_token, codec_cors_origins), prefix="/codec")
    return app


CONTROL_TEXT = "Fältet innehåller ett otillåtet tecken (till exempel ett styrtecken). Skriv det med vanliga tecken."


def registration_errors(
    plan: ActivityPlan, form: dict[str, str], organisation_ids: set[str]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Errors by field (Swedish), and the registration's arguments for `Service.register` (e-mail normalised,
    the team members' names when a team registers).

    Every field's length is checked before anything else is done with it (hostile input costs nothing)."""
    errors: dict[str, str] = {}
    name, email, school = form.get("name", ""), form.get("email", ""), form.get("school", "")
    organisation, role, team = form.get("organisation", ""), form.get("role", ""), form.get("team_members", "")
    if len(name) > MAX_NAME:
        errors["name"] = f"Namnet får vara högst {MAX_NAME} tecken."
    elif control_character(name):
        errors["name"] = CONTROL_TEXT
    elif not (name := name.strip()):
        errors["name"] = "Skriv ditt namn."
    if len(email) > MAX_EMAIL_LENGTH:
        errors["email"] = f"E-postadressen får vara högst {MAX_EMAIL_LENGTH} tecken."
    else:
        try:
            email = parse_email(email)
        except InvalidEmail:
            errors["email"] = "Skriv en giltig e-postadress, till exempel namn@skola.se."
    if len(organisation) > MAX_CHOICE or organisation.strip() not in organisation_ids:
        errors["organisation"] = "Välj kommun eller organisation i listan."
    if len(role) > MAX_CHOICE or role.strip() not in default_reference().target_groups:
        errors["role"] = "Välj en roll i listan."
    if len(school) > MAX_SCHOOL:
        errors["school"] = f"Skola eller enhet får vara högst {MAX_SCHOOL} tecken."
    elif control_character(school):
        errors["school"] = CONTROL_TEXT
    members = [] if len(team) > MAX_TEAM_MEMBERS else [m.strip() for m in re.split(r"[\r\n]+", team) if m.strip()]
    if len(team) > MAX_TEAM_MEMBERS:
        errors["team_members"] = f"Lagets medlemmar får vara högst {MAX_TEAM_MEMBERS} tecken sammanlagt."
    elif any(len(m) > MAX_TEAM_MEMBER for m in members):
        errors["team_members"] = f"Varje namn får vara högst {MAX_TEAM_MEMBER} tecken."
    elif any(control_character(m) for m in members):
        errors["team_members"] = CONTROL_TEXT
    elif members and not plan.teams.allowed:
        errors["team_members"] = "Aktiviteten tar bara emot enskilda anmälningar."
    elif members and not plan.teams.min_size <= len(members) <= plan.teams.max_size:
        errors["team_members"] = (
            f"Ett lag ska ha {plan.teams.min_size}–{plan.teams.max_size} personer, du skrev {len(members)} namn."
        )
    fields = {
        "name": name,
        "email": email,
        "organisation": organisation.strip(),
        "role": role.strip(),
        "school": school.strip() or None,
        "team_members": members or None,
    }
    return errors, fields


def _now() -> datetime:
    return datetime.now(UTC)
