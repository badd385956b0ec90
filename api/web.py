"""The participant-facing web: activity page and registration, withdrawal link, surveys.

Works without JavaScript. Registrations and withdrawals go through the
workflow's Updates (via `Service`); survey answers go to the store, without
the participant's name.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from temporalio.converter import PayloadCodec

from activities_impl import calendar as ics
from activities_impl.compose import survey_text, verify, when
from activities_impl.store import Store, StoreError
from api.service import Refused, Service, Unconfirmed
from api.texts import refusal_in_swedish
from domain.lifecycle import SeatStatus
from domain.phases import Phase
from domain.plan import EMAIL, ActivityPlan
from domain.reference import default_reference
from domain.surveys import SCALE, questions, validate_answers

CLOSED_TEXTS = {
    Phase.PLANNED: "Anmälan har inte öppnat än.",
    Phase.CANCELLED: "Aktiviteten är inställd.",
}
SURVEY_REFUSALS = {  # store refusal code -> (HTTP status, heading)
    "unknown": (404, "Länken är ogiltig"),
    "answered": (409, "Enkäten är redan besvarad"),
    "closed": (410, "Enkäten är stängd"),
}


def create_app(store: Store, service: Service | None = None, *, secret_key: str = "dev-only-change-me",
               coordinator_api_token: str | None = None, codec: PayloadCodec | None = None,
               codec_token: str | None = None, codec_cors_origins: Iterable[str] = ()) -> FastAPI:
    app = FastAPI(title="runflow", description="RUN:s aktiviteter: anmälan, enkäter och samordnarnas API.")
    env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))
    templates = Jinja2Templates(env=env)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def message(request: Request, title: str, lines: list[str], status: int = 200, tone: str = "",
                back: str | None = None) -> HTMLResponse:
        return page(request, "message.html", status, title=title, lines=lines, tone=tone, back=back)

    async def load_plan(activity_id: str) -> ActivityPlan | None:
        try:
            return await asyncio.to_thread(store.plan, activity_id)
        except StoreError:
            return None

    async def activity_page(request: Request, plan: ActivityPlan, status: int = 200, errors: dict | None = None,
                            values: dict | None = None) -> HTMLResponse:
        phase, places_left = None, None
        if service is not None:
            try:
                current = await service.status(plan.id)
                phase, places_left = current.phase, max(0, current.capacity - current.confirmed)
            except Exception:  # noqa: BLE001 - the page still shows the plan when Temporal is unreachable
                pass
        closed_text = CLOSED_TEXTS.get(phase, "Anmälan är stängd.") if phase is not None else \
            "Anmälan är inte tillgänglig just nu. Försök igen om en stund."
        return page(request, "activity.html", status, title=plan.title, plan=plan, places_left=places_left,
                    deadline=when(plan.registration.deadline), open=phase is Phase.OPEN, closed_text=closed_text,
                    sessions=[{"when": when(s.start, s.end), "where": ics.location_text(s)} for s in plan.sessions],
                    organisations=await asyncio.to_thread(store.organisations),
                    roles=default_reference().target_groups, errors=errors or {}, values=values or {})

    @app.exception_handler(Unconfirmed)
    async def unconfirmed(request: Request, exc: Unconfirmed):
        """The workflow did not answer in time (e.g. a burst beyond what the server takes at once)."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        return message(request, "Vi fick inget svar i tid", [
            "Det du skickade kan ändå ha tagits emot. Får du ett bekräftelsemejl inom några minuter är allt klart;",
            "annars, försök igen om en stund."], 503, "bad")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        activities = await asyncio.to_thread(store.activities)
        return page(request, "index.html", title="Aktiviteter", activities=activities)

    @app.get("/a/{activity_id}", response_class=HTMLResponse, include_in_schema=False)
    async def show_activity(request: Request, activity_id: str) -> HTMLResponse:
        plan = await load_plan(activity_id)
        if plan is None:
            return message(request, "Aktiviteten finns inte", ["Kontrollera länken."], 404, "bad")
        return await activity_page(request, plan)

    @app.post("/a/{activity_id}", response_class=HTMLResponse, include_in_schema=False)
    async def register(request: Request, activity_id: str) -> HTMLResponse:
        plan = await load_plan(activity_id)
        if plan is None:
            return message(request, "Aktiviteten finns inte", ["Kontrollera länken."], 404, "bad")
        form = {k: str(v).strip() for k, v in (await request.form()).items()}
        errors, members = registration_errors(plan, form, await asyncio.to_thread(store.organisation_ids))
        if errors:
            return await activity_page(request, plan, 422, errors, form)
        if service is None:
            return message(request, "Anmälan är inte tillgänglig", ["Försök igen om en stund."], 503, "bad")
        try:
            result = await service.register(activity_id, name=form["name"], email=form["email"],
                                            organisation=form["organisation"], role=form["role"],
                                            school=form.get("school") or None, team_members=members or None)
        except Refused as exc:
            return message(request, "Anmälan kunde inte tas emot", [refusal_in_swedish(str(exc))], 409, "bad",
                           back=f"/a/{activity_id}")
        if result.status is SeatStatus.CONFIRMED:
            lines = [f"Du har fått en plats på {plan.title}.",
                     "En bekräftelse med kalenderfil och länk för avanmälan har skickats till din e-post."]
        else:
            lines = [f"Alla platser är fyllda. Du står på reservlistan som nummer {result.waitlist_position}.",
                     "Blir en plats ledig får du den automatiskt och ett mejl om det."]
        return message(request, "Tack för din anmälan", lines, 200, "ok", back=f"/a/{activity_id}")

    async def withdrawal_target(token: str):
        registration_id = verify(token, secret_key)
        if registration_id is None:
            return None
        return await asyncio.to_thread(store.registration, registration_id)

    @app.get("/w/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def confirm_withdrawal(request: Request, token: str) -> HTMLResponse:
        found = await withdrawal_target(token)
        if found is None:
            return message(request, "Länken är ogiltig", ["Kontrollera att hela länken kom med."], 404, "bad")
        registration, participant = found
        if registration.status not in (SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value):
            return message(request, "Anmälan är redan avslutad", ["Du behöver inte göra något mer."], 409)
        plan = await asyncio.to_thread(store.plan, registration.activity_id)
        who = "ditt lag" if registration.team_size > 1 else "dig"
        return page(request, "withdraw.html", title="Avanmälan", plan=plan, token=token, who=who)

    @app.post("/w/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def withdraw(request: Request, token: str) -> HTMLResponse:
        found = await withdrawal_target(token)
        if found is None:
            return message(request, "Länken är ogiltig", ["Kontrollera att hela länken kom med."], 404, "bad")
        registration, _ = found
        if service is None:
            return message(request, "Avanmälan är inte tillgänglig", ["Försök igen om en stund."], 503, "bad")
        try:
            await service.withdraw_registration(registration.id)
        except Refused as exc:
            return message(request, "Avanmälan kunde inte genomföras", [refusal_in_swedish(str(exc))], 409, "bad")
        return message(request, "Du är avanmäld", ["Tack för att du meddelade oss. En bekräftelse har skickats "
                                                   "till din e-post."], 200, "ok")

    async def survey_context(token: str):
        invitation = await asyncio.to_thread(store.invitation_by_token, token)
        if invitation is None:
            return None, None
        plan = await asyncio.to_thread(store.plan, invitation.activity_id)
        return invitation, plan

    def survey_refusal(request: Request, code: str) -> HTMLResponse:
        status, title = SURVEY_REFUSALS.get(code, (409, "Svaret kunde inte tas emot"))
        lines = {"answered": ["Tack, vi har redan fått ditt svar."],
                 "closed": ["Tiden för att svara har gått ut."]}.get(code, ["Kontrollera att hela länken kom med."])
        return message(request, title, lines, status, "bad")

    @app.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def show_survey(request: Request, token: str) -> HTMLResponse:
        invitation, plan = await survey_context(token)
        if invitation is None:
            return survey_refusal(request, "unknown")
        if invitation.answered_at is not None:
            return survey_refusal(request, "answered")
        if invitation.closed or _now() >= invitation.closes_at:
            return survey_refusal(request, "closed")
        return survey_page(request, invitation, plan, token)

    def survey_page(request, invitation, plan, token, status=200, errors=None, values=None) -> HTMLResponse:
        title, _ = survey_text(invitation.survey)
        return page(request, "survey.html", status, title=title, survey_title=title, plan=plan, token=token,
                    closes=when(invitation.closes_at), questions=questions(invitation.survey), scale=SCALE,
                    errors=errors or {}, values=values or {})

    @app.post("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def answer_survey(request: Request, token: str) -> HTMLResponse:
        invitation, plan = await survey_context(token)
        if invitation is None:
            return survey_refusal(request, "unknown")
        form = {k: str(v) for k, v in (await request.form()).items()}
        answers, errors = validate_answers(invitation.survey, form)
        if errors:
            return survey_page(request, invitation, plan, token, 422, errors, form)
        try:
            await asyncio.to_thread(store.answer_survey, token, answers)
        except StoreError as exc:
            return survey_refusal(request, exc.code)
        return message(request, "Tack för dina svar!", ["Dina svar hjälper oss att utveckla RUN:s aktiviteter."],
                       200, "ok")

    if service is not None:
        from api.coordinator_api import coordinator_router

        app.include_router(coordinator_router(service, store, coordinator_api_token), prefix="/api")
    if codec is not None:  # the codec server for the Temporal UI and CLI (api/codec_server.py)
        from api.codec_server import codec_router

        app.include_router(codec_router(codec, codec_token, codec_cors_origins), prefix="/codec")
    return app


def registration_errors(plan: ActivityPlan, form: dict[str, str], organisation_ids: set[str]
                        ) -> tuple[dict[str, str], list[str]]:
    """Errors by field (Swedish), and the team members' names when a team registers."""
    errors: dict[str, str] = {}
    if not form.get("name"):
        errors["name"] = "Skriv ditt namn."
    elif len(form["name"]) > 200:
        errors["name"] = "Namnet får vara högst 200 tecken."
    if not EMAIL.match(form.get("email", "")):
        errors["email"] = "Skriv en giltig e-postadress, till exempel namn@skola.se."
    if form.get("organisation") not in organisation_ids:
        errors["organisation"] = "Välj kommun eller organisation i listan."
    if form.get("role") not in default_reference().target_groups:
        errors["role"] = "Välj en roll i listan."
    if len(form.get("school", "")) > 200:
        errors["school"] = "Skola eller enhet får vara högst 200 tecken."
    members = [m.strip() for m in re.split(r"[\r\n]+", form.get("team_members", "")) if m.strip()]
    if any(len(m) > 200 for m in members):
        errors["team_members"] = "Varje namn får vara högst 200 tecken."
    elif members and not plan.teams.allowed:
        errors["team_members"] = "Aktiviteten tar bara emot enskilda anmälningar."
    elif members and not plan.teams.min_size <= len(members) <= plan.teams.max_size:
        errors["team_members"] = (f"Ett lag ska ha {plan.teams.min_size}–{plan.teams.max_size} personer, "
                                  f"du skrev {len(members)} namn.")
    return errors, members


def _now() -> datetime:
    return datetime.now(timezone.utc)
