"""Changing an activity from its page: attendance by ticked boxes, and the coordinator's decisions (run, cancel,
extend with a new deadline, postpone with new dates), each with a confirmation step.

Everything goes through the workflow's Updates (`Service`), with the member's opaque staff id, so the status
shows who decided; the member's reason for a decision stays in the store's audit log (free text never goes to
Temporal)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.backoffice.context import BackOffice
from api.backoffice.plan_check import check_plan
from api.service import Refused, Unconfirmed
from domain.control_characters import control_character
from domain.lifecycle import OverrideAction
from domain.local_time import BadLocalTime, local_input_value, parse_local_time
from domain.plan import ActivityPlan
from domain.reference import default_reference
from domain.tables import StaffMember
from domain.texts import refusal_text, when

MAX_REASON = 1000
MAX_IDS = 10_000
CONFIRM_TEXTS = {
    OverrideAction.RUN: ("Genomför aktiviteten", "Aktiviteten blir av med de anmälda som finns nu."),
    OverrideAction.CANCEL: (
        "Ställ in aktiviteten",
        "Alla anmälda och alla på reservlistan får ett mejl om att aktiviteten är inställd. Det går inte att ångra.",
    ),
    OverrideAction.EXTEND: (
        "Förläng anmälan",
        "Anmälan hålls öppen till den nya sista anmälningsdagen. Därefter fattas beslutet på nytt.",
    ),
    OverrideAction.POSTPONE: (
        "Skjut upp aktiviteten",
        "Aktiviteten får nya datum. De anmälda får ett mejl med de nya tiderna och nya kalenderfiler.",
    ),
}


def steering_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def back(activity_id: str, done: str = "") -> RedirectResponse:
        return RedirectResponse(f"/admin/activities/{activity_id}{f'?klart={done}' if done else ''}", status_code=303)

    def refused_page(request: Request, member: StaffMember, activity_id: str, exc: Exception) -> HTMLResponse:
        if isinstance(exc, Unconfirmed):
            return bo.message(
                request,
                "Inget svar i tid",
                ["Ändringen kan ändå ha genomförts. Ladda om aktivitetens sida om en stund och kontrollera."],
                503,
                "bad",
                member=member,
                back=f"/admin/activities/{activity_id}",
                back_text="Till aktiviteten",
            )
        code, details = (exc.code, exc.details) if isinstance(exc, Refused) else ("refused", {})
        return bo.message(
            request,
            "Det gick inte",
            [refusal_text(code, details)],
            409,
            "bad",
            member=member,
            back=f"/admin/activities/{activity_id}",
            back_text="Till aktiviteten",
        )

    @router.post("/activities/{activity_id}/attendance/{session_no}", response_class=HTMLResponse)
    async def attendance(
        request: Request, activity_id: str, session_no: int, member: StaffMember = Depends(bo.coordinator)
    ) -> Response:
        _, lists = await bo.form_with_lists(request)
        ticked = lists.get("present", [])
        if len(ticked) > MAX_IDS or not all(t.isascii() and t.isdigit() and len(t) <= 12 for t in ticked):
            return bo.message(request, "Felaktig närvarolista", ["Ladda om sidan och försök igen."], 422, "bad")
        if bo.service is None:
            return bo.message(request, "Inte tillgängligt", ["Försök igen om en stund."], 503, "bad", member=member)
        try:
            await bo.service.attendance_by_ids(activity_id, session_no, [int(t) for t in ticked], staff_id=member.id)
        except (Refused, Unconfirmed) as exc:
            return refused_page(request, member, activity_id, exc)
        return back(activity_id, "narvaro")

    async def confirm_page(
        request: Request,
        member: StaffMember,
        activity_id: str,
        action: OverrideAction,
        plan: ActivityPlan,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> HTMLResponse:
        heading, consequence = CONFIRM_TEXTS[action]
        values = values or {}
        sessions = [
            {
                "no": n,
                "start": values.get(f"start_{n}", local_input_value(s.start)),
                "end": values.get(f"end_{n}", local_input_value(s.end)),
                "when": when(s.start, s.end),
            }
            for n, s in enumerate(plan.sessions, start=1)
        ]
        return bo.page(
            request,
            "admin/decide.html",
            status,
            member=member,
            title=heading,
            heading=heading,
            consequence=consequence,
            plan=plan,
            activity_id=activity_id,
            action=action.value,
            errors=errors or {},
            values=values,
            sessions=sessions,
            deadline=values.get("deadline", local_input_value(plan.registration.deadline)),
            current_deadline=when(plan.registration.deadline),
        )

    def action_of(text: str) -> OverrideAction | None:
        try:
            return OverrideAction(text[:20])
        except ValueError:
            return None

    @router.get("/activities/{activity_id}/decide/{action_text}", response_class=HTMLResponse)
    async def confirm(
        request: Request, activity_id: str, action_text: str, member: StaffMember = Depends(bo.coordinator)
    ) -> Response:
        action, plan = action_of(action_text), await bo.directory.plan(activity_id[:64])
        if action is None or plan is None:
            return bo.message(request, "Finns inte", ["Kontrollera länken."], 404, "bad", member=member)
        return await confirm_page(request, member, activity_id, action, plan)

    @router.post("/activities/{activity_id}/decide/{action_text}", response_class=HTMLResponse)
    async def decide(
        request: Request, activity_id: str, action_text: str, member: StaffMember = Depends(bo.coordinator)
    ) -> Response:
        form = await bo.form(request)
        action, plan = action_of(action_text), await bo.directory.plan(activity_id[:64])
        if action is None or plan is None:
            return bo.message(request, "Finns inte", ["Kontrollera länken."], 404, "bad", member=member)
        errors: dict[str, str] = {}
        reason = form.get("reason", "")
        if len(reason) > MAX_REASON:
            errors["reason"] = f"Motiveringen får vara högst {MAX_REASON} tecken."
        elif control_character(reason.replace("\n", "").replace("\r", "")):
            errors["reason"] = "Motiveringen innehåller ett otillåtet tecken."
        until, new_plan = None, None
        if action is OverrideAction.EXTEND:
            try:
                until = parse_local_time(form.get("deadline", ""))
            except BadLocalTime as exc:
                errors["deadline"] = str(exc)
        if action is OverrideAction.POSTPONE:
            new_plan = postponed_plan(plan, form, errors)
        if errors:
            values = {k: v for k, v in form.items() if k != "csrf_token"}
            return await confirm_page(request, member, activity_id, action, plan, 422, errors, values)
        if bo.service is None:
            return bo.message(request, "Inte tillgängligt", ["Försök igen om en stund."], 503, "bad", member=member)
        try:
            await bo.service.decide(activity_id, action, until=until, plan=new_plan, staff_id=member.id)
        except (Refused, Unconfirmed) as exc:
            return refused_page(request, member, activity_id, exc)
        details: dict[str, Any] = {"action": action.value}
        if until is not None:
            details["until"] = until.isoformat()
        await bo.audit(
            activity_id, member, f"decision:{action.value}", reason.strip() or "(ingen motivering)", **details
        )
        return back(activity_id, "beslut")

    return router


def postponed_plan(plan: ActivityPlan, form: dict[str, str], errors: dict[str, str]) -> ActivityPlan | None:
    """The plan with the new deadline and session times from the form; problems go to `errors` by field."""
    data = plan.model_dump(mode="python")
    try:
        data["registration"]["deadline"] = parse_local_time(form.get("deadline", ""))
    except BadLocalTime as exc:
        errors["deadline"] = str(exc)
    for n, session in enumerate(data["sessions"], start=1):
        for edge in ("start", "end"):
            try:
                session[edge] = parse_local_time(form.get(f"{edge}_{n}", ""))
            except BadLocalTime as exc:
                errors[f"{edge}_{n}"] = str(exc)
    if errors:
        return None
    new_plan, issues = check_plan(data, default_reference())  # the plan form's checks, in Swedish
    for issue in issues:
        errors.setdefault(problem_field(issue.path), str(issue))
    return new_plan


def problem_field(field: str) -> str:
    """The form field a plan problem belongs to: 'sessions[1].end' -> 'end_2'; anything else by the deadline."""
    if field.startswith("sessions["):
        number, _, rest = field.removeprefix("sessions[").partition("]")
        edge = rest.removeprefix(".")
        if number.isdigit() and edge in ("start", "end"):
            return f"{edge}_{int(number) + 1}"
    return "deadline"
