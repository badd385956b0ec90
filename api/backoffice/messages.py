"""Messages to a segment of an activity (`/admin/activities/<id>/message`): write, see who it will reach, send.

Two steps without JavaScript: the form posts to a preview that shows the text and how many it goes to now; the
preview's button sends (the text travels in hidden fields and is checked again). Sending goes through the
workflow's `send_message` Update via `Service.send_message`: the text is stored, Temporal sees its id, each
recipient gets it once through the outbox, and the member who sent it is recorded."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.backoffice.context import BackOffice
from api.service import Refused, Unconfirmed
from domain.messages import BODY_MAX, SUBJECT_MAX, normalised_body, normalised_subject, text_refusal
from domain.plan import ActivityPlan
from domain.refusals import RefusalCode
from domain.segments import Segment, SegmentError, parse_segment, segment_choices, segment_label
from domain.tables import StaffMember
from domain.texts import refusal_text, when

MAX_SEGMENT = 100
SUBJECT_CODES = {RefusalCode.SUBJECT_EMPTY, RefusalCode.SUBJECT_TOO_LONG, RefusalCode.SUBJECT_CONTROL_CHARACTER}


def messages_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def form_page(
        request: Request,
        member: StaffMember,
        activity_id: str,
        plan: ActivityPlan,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> HTMLResponse:
        sent = await asyncio.to_thread(bo.store.messages, activity_id)
        staff = {m.id: m for m in await asyncio.to_thread(bo.store.staff_members)}
        earlier = []
        for m in reversed(sent):
            try:
                label = segment_label(parse_segment(m.segment, plan))
            except SegmentError:
                label = m.segment
            author = staff.get(m.staff_id)
            earlier.append(
                {
                    "at": when(m.created_at),
                    "subject": m.subject,
                    "segment": label,
                    "who": (author.name or author.email) if author else "okänd medarbetare",
                }
            )
        return bo.page(
            request,
            "admin/message_form.html",
            status,
            member=member,
            title=f"Meddelande: {plan.title}",
            plan=plan,
            activity_id=activity_id,
            choices=[(s.code, label) for s, label in segment_choices(plan)],
            errors=errors or {},
            values=values or {},
            earlier=earlier,
            subject_max=SUBJECT_MAX,
            body_max=BODY_MAX,
        )

    def checked(plan: ActivityPlan, form: dict[str, str]) -> tuple[Segment | None, str, str, dict[str, str]]:
        """The segment and the text as they will be sent, and the problems by field (Swedish)."""
        errors: dict[str, str] = {}
        segment = None
        typed = form.get("segment", "")
        try:
            if len(typed) > MAX_SEGMENT:
                raise SegmentError("Välj vilka meddelandet ska gå till i listan.")
            segment = parse_segment(typed, plan)
        except SegmentError as exc:
            errors["segment"] = exc.text
        subject = normalised_subject(form.get("subject", "")[: SUBJECT_MAX + 100])
        body = normalised_body(form.get("body", "")[: BODY_MAX + 1000])
        # Over-long text is cut a little past its limit first, so the check still says "too long" (and costs little).
        refusal = text_refusal(subject, body)
        if refusal is not None:
            field = "subject" if refusal.code in SUBJECT_CODES else "body"
            errors[field] = refusal_text(refusal.code, refusal.details)
        return segment, subject, body, errors

    async def plan_or_404(request: Request, member: StaffMember, activity_id: str) -> ActivityPlan | Response:
        plan = await bo.directory.plan(activity_id[:64])
        if plan is None:
            return bo.message(request, "Aktiviteten finns inte", ["Kontrollera länken."], 404, "bad", member=member)
        return plan

    @router.get("/activities/{activity_id}/message", response_class=HTMLResponse)
    async def write(request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        plan = await plan_or_404(request, member, activity_id)
        if not isinstance(plan, ActivityPlan):
            return plan
        return await form_page(request, member, activity_id, plan)

    @router.post("/activities/{activity_id}/message", response_class=HTMLResponse)
    async def preview(request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        plan = await plan_or_404(request, member, activity_id)
        if not isinstance(plan, ActivityPlan):
            return plan
        segment, subject, body, errors = checked(plan, form)
        values = {k: form.get(k, "") for k in ("segment", "subject", "body")}
        if errors or segment is None:
            return await form_page(request, member, activity_id, plan, 422, errors, values)
        recipients = await asyncio.to_thread(bo.store.segment_recipients, activity_id, segment)
        return bo.page(
            request,
            "admin/message_preview.html",
            member=member,
            title="Skicka meddelandet?",
            plan=plan,
            activity_id=activity_id,
            segment=segment.code,
            segment_label=segment_label(segment),
            count=len(recipients),
            subject=subject,
            body=body,
        )

    @router.post("/activities/{activity_id}/message/send", response_class=HTMLResponse)
    async def send(request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        plan = await plan_or_404(request, member, activity_id)
        if not isinstance(plan, ActivityPlan):
            return plan
        segment, subject, body, errors = checked(plan, form)
        values = {k: form.get(k, "") for k in ("segment", "subject", "body")}
        if form.get("change") is not None or errors or segment is None:
            return await form_page(request, member, activity_id, plan, 422 if errors else 200, errors, values)
        if bo.service is None:
            return bo.message(request, "Inte tillgängligt", ["Försök igen om en stund."], 503, "bad", member=member)
        try:
            await bo.service.send_message(activity_id, segment.code, subject, body, staff_id=member.id)
        except Unconfirmed:
            return bo.message(
                request,
                "Inget svar i tid",
                ["Meddelandet kan ändå ha skickats. Kontrollera listan över skickade meddelanden om en stund."],
                503,
                "bad",
                member=member,
                back=f"/admin/activities/{activity_id}/message",
            )
        except Refused as exc:
            return bo.message(
                request,
                "Meddelandet skickades inte",
                [refusal_text(exc.code, exc.details)],
                409,
                "bad",
                member=member,
                back=f"/admin/activities/{activity_id}",
                back_text="Till aktiviteten",
            )
        return RedirectResponse(f"/admin/activities/{activity_id}?klart=meddelande", status_code=303)

    return router
