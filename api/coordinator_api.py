"""The coordinators' HTTP API: JSON over the same `Service` the CLI uses.

Mounted by the web app under `/api` (`app.include_router(coordinator_router(...), prefix="/api")`).
Every request needs `Authorization: Bearer <token>`: the deployment's `RUNFLOW_API_TOKEN`, or a staff
member's personal token (`rfp_…`, made at /admin/tokens or by `runflow staff token`), which acts with
its holder's role: a viewer's token may only read (403 for anything else), and decisions and
attendance recorded with a coordinator's token name its holder. A revoked token, or one of a member
no longer active, is refused like a wrong one (401).

Status codes: 401 no or wrong token; 403 a viewer's token asked to change something; 404 no such
activity (or no report yet); 409 the workflow or the service refused (wrong phase, already started,
an e-mail not registered for the activity, ...);
415 a plan body that is neither JSON nor YAML; 422 bad input, with `detail` a reason, for plans
`{"problems": [{"field", "message"}, ...]}`, and for a body that does not fit its model (an unknown
`action`, `session_no` below 1, an e-mail address that does not parse) FastAPI's usual error list;
503 Temporal cannot list workflows.

Bodies are measured before they are parsed (`domain.plan_source`): at most 256 KiB, nested at most
20 levels, at most 10,000 values. Python's json and pydantic recurse, so a 40 KB body of nested
arrays would otherwise crash the parser; beyond a limit the answer is 422 with one line.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field
from starlette.types import Message
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.directory import Directory
from api.service import Refused, Service
from domain.email_address import parse_email
from domain.lifecycle import ActivityStatus, OverrideAction
from domain.phases import Phase
from domain.plan import ActivityPlan, PlanError, Problem, parse_plan, parse_plan_text
from domain.plan_source import MAX_PLAN_BYTES, SourceError, load_json, measure_json, shown, too_large
from domain.reference import ReferenceData, default_reference
from domain.refusals import RefusalCode
from domain.staff import API_TOKEN_PREFIX, may_change, sees_people, without_people
from domain.tables import Report, StaffMember

YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
PHASES = ", ".join(p.value for p in Phase)
READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}


# -- models ----------------------------------------------------------------
class ProblemsDetail(BaseModel):
    problems: list[Problem]


class ErrorOut(BaseModel):
    detail: str | ProblemsDetail | list[dict[str, Any]] = Field(
        description="why; for an invalid plan its problems by field; for a malformed body FastAPI's error list"
    )


class ActivityRow(BaseModel):
    id: str
    workflow_id: str
    status: str
    phase: str | None = None
    confirmed: int | None = None
    focus_area: str | None = None
    first_session_start: str | None = None


class SurveyCounts(BaseModel):
    survey: str = Field(description="s1, s2, … (after each session), final, follow-up")
    invited: int
    answered: int
    reminded: int


class ActivityOverview(ActivityStatus):
    """The workflow's status, with each survey's figures from the store while the activity runs."""

    surveys: list[SurveyCounts] = []


class ParticipantOut(BaseModel):
    registration_id: str
    status: str = Field(description="confirmed, waitlisted, withdrawn or cancelled")
    waitlist_position: int | None = Field(description="place on the waiting list (1 = next), when waitlisted")
    team_size: int
    name: str | None = Field(description="None once anonymised")
    email: str | None = Field(description="None once anonymised")
    organisation_id: str
    organisation: str
    role: str
    school: str | None
    team_members: list[str]
    registered_at: datetime


class UndeliverableOut(BaseModel):
    recipient: str | None = Field(description="the address (erased on anonymisation)")
    purpose: str = Field(description="the mailing, e.g. registration, invitation, survey")
    reason: str | None = Field(description="why it cannot be delivered (the server's answer, without addresses)")
    queued_at: str


class ActivityList(BaseModel):
    activities: list[ActivityRow]


class Started(BaseModel):
    id: str
    workflow_id: str
    phase: str = Phase.PLANNED.value


class DecisionIn(BaseModel):
    action: OverrideAction
    until: datetime | None = Field(None, description="extend: the new deadline, ISO-8601 with an offset")
    plan: dict[str, Any] | None = Field(None, description="postpone: the new plan (same id, new dates)")


class DecisionOut(BaseModel):
    id: str
    action: OverrideAction
    phase: str


class AttendanceIn(BaseModel):
    session_no: int = Field(ge=1)
    present: list[Annotated[str, AfterValidator(parse_email)]] = Field(
        min_length=1, description="e-mail addresses of those present (normalised; one that does not parse is a 422)"
    )


class AttendanceOut(BaseModel):
    id: str
    session: int
    present: int = Field(description="how many are recorded present at the session in all")


class ReportSummary(BaseModel):
    id: str
    created_at: datetime
    summary: dict[str, Any]


# -- helpers ---------------------------------------------------------------
def _problems(exc: PlanError) -> HTTPException:
    return HTTPException(422, {"problems": [p.model_dump() for p in exc.problems]})


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _media_type(request: Request, default: str = "application/json") -> str:
    return request.headers.get("content-type", default).split(";")[0].strip().lower()


async def _read_body(request: Request, limit: int = MAX_PLAN_BYTES) -> bytes:
    """The body, read no further than `limit` bytes (SourceError beyond: a huge body is never held)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _plan_from_body(request: Request, reference: ReferenceData) -> ActivityPlan:
    """The plan in the request body: JSON (the plan object) or YAML text; 415 for anything else."""
    media_type = _media_type(request)
    if media_type not in YAML_TYPES and not _is_json(media_type):
        raise HTTPException(415, f"send the plan as application/json or application/yaml, not {shown(media_type)}")
    try:
        try:
            body = await _read_body(request)
            if _is_json(media_type):
                return parse_plan(load_json(body), reference)
            text = body.decode("utf-8")
        except SourceError as exc:
            raise PlanError([Problem(field="plan", message=str(exc))]) from None
        except UnicodeDecodeError:
            raise PlanError([Problem(field="plan", message="not UTF-8 text")]) from None
        return parse_plan_text(text, reference)
    except PlanError as exc:
        raise _problems(exc) from None


_BODY_REFUSED = "runflow.body_refused"


class _MeasuredBodyRoute(APIRoute):
    """A route whose JSON body is measured before FastAPI parses it (json and pydantic recurse).

    A body beyond the limits is not parsed at all: the route sees an empty body, and the reason is
    left in the request scope for `_body_within_limits`, a router dependency that runs after the
    token check (so an unauthenticated caller still gets 401) and answers 422 with one line.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if self.body_field is None:  # no body model: the endpoint reads and measures the body itself
            return handle

        async def measured(request: Request) -> Response:
            if not _is_json(_media_type(request)):
                return await handle(request)
            try:
                body = await _read_body(request)
                measure_json(body)
            except SourceError as exc:
                request.scope[_BODY_REFUSED] = f"the request body {exc}"
                body = b""
            replayed = False

            async def replay() -> Message:  # the body read here, then the client's own messages
                nonlocal replayed
                if replayed:
                    return await request.receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await handle(Request(request.scope, replay))

        return measured


def _body_within_limits(request: Request) -> None:
    if (reason := request.scope.get(_BODY_REFUSED)) is not None:
        raise HTTPException(422, reason)


_PLAN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "description": "an activity plan"}},
            "application/yaml": {"schema": {"type": "string", "description": "an activity plan as YAML"}},
        },
    }
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


def coordinator_router(service: Service, directory: Directory, api_token: str | None) -> APIRouter:
    """The `/activities` endpoints, guarded by the bearer token `api_token` (None: every request is 401)."""
    bearer = HTTPBearer(auto_error=False, description="RUNFLOW_API_TOKEN, or a staff member's personal token")
    reference = default_reference()

    # A default, not Annotated[...]: with postponed annotations FastAPI cannot see the local `bearer`.
    async def require_token(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> StaffMember | None:
        """The holder of a personal token, None for the deployment's token; 401 or 403 otherwise. (FastAPI runs it
        once per request: the endpoints that name who acted depend on it again and get the same answer.)"""
        if credentials is None:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        presented = credentials.credentials
        if api_token is not None and secrets.compare_digest(presented.encode(), api_token.encode()):
            return None
        member = await directory.api_token_holder(presented) if presented.startswith(API_TOKEN_PREFIX) else None
        if member is None:
            reason = "wrong bearer token"
            if api_token is None:
                reason += " (RUNFLOW_API_TOKEN is not set: only personal tokens are accepted)"
            raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})
        if request.method not in READ_ONLY_METHODS and not may_change(member.role):
            raise HTTPException(403, "this personal token is read-only (its holder has the role viewer)")
        return member

    router = APIRouter(
        tags=["coordinator"],
        dependencies=[Depends(require_token), Depends(_body_within_limits)],
        responses=_errors(401, 403),
        route_class=_MeasuredBodyRoute,
    )

    async def known(activity_id: str) -> None:
        if await directory.activity(activity_id) is None:
            raise HTTPException(404, f"no activity {shown(activity_id)}")

    def refused(exc: Refused) -> HTTPException:
        # The store check comes first; this catches a workflow gone while its activity is still stored.
        return HTTPException(404 if exc.code == RefusalCode.NO_ACTIVITY else 409, str(exc))

    @router.get("/activities", response_model=ActivityList, responses=_errors(422, 503))
    async def list_activities(
        phase: Annotated[str | None, Query(description=f"only activities in this phase: {PHASES}")] = None,
    ) -> ActivityList:
        """All activities, from Temporal's visibility (search attributes)."""
        if phase is not None and phase not in {p.value for p in Phase}:
            raise HTTPException(422, f"unknown phase {shown(phase)} (one of {PHASES})")
        try:
            rows = await service.list(phase)
        except RPCError as exc:  # e.g. a server without visibility (the time-skipping test server)
            raise HTTPException(503, f"Temporal cannot list workflows: {exc.message}") from None
        return ActivityList(activities=[ActivityRow(**row) for row in rows])

    @router.post(
        "/activities",
        status_code=201,
        response_model=Started,
        responses=_errors(409, 415, 422),
        openapi_extra=_PLAN_BODY,
    )
    async def start_activity(request: Request) -> Started:
        """Start the lifecycle of a plan (JSON, or YAML with `Content-Type: application/yaml`)."""
        plan = await _plan_from_body(request, reference)
        try:
            handle = await service.start(plan)
        except Refused as exc:  # a line the year's action plan does not have is bad input; the rest are conflicts
            raise HTTPException(422 if exc.code == RefusalCode.UNKNOWN_ACTION_PLAN_LINE else 409, str(exc)) from None
        except WorkflowAlreadyStartedError:
            raise HTTPException(409, f"activity {plan.id!r} has already been started") from None
        return Started(id=plan.id, workflow_id=handle.id)

    @router.get("/activities/{activity_id}", response_model=ActivityOverview, responses=_errors(404))
    async def activity_status(activity_id: str) -> ActivityOverview:
        """Phase, counts, next due time, sessions, decisions and each survey's figures of one activity."""
        await known(activity_id)
        try:
            status = await service.status(activity_id)
        except Refused as exc:
            raise refused(exc) from None
        surveys = [SurveyCounts(**row) for row in await directory.survey_counts(activity_id)]
        return ActivityOverview(**status.model_dump(), surveys=surveys)

    @router.get("/activities/{activity_id}/participants", response_model=list[ParticipantOut], responses=_errors(404))
    async def participants(
        activity_id: str,
        status: Annotated[str | None, Query(pattern="^(confirmed|waitlisted|withdrawn|cancelled)$")] = None,
        member: StaffMember | None = Depends(require_token),
    ) -> list[ParticipantOut]:
        """Who registered, in registration order: status, waiting-list position, organisation, role, school, team,
        when; names, e-mail addresses, schools and team members for coordinators (the deployment's token or a
        coordinator's personal token), not for viewers."""
        await known(activity_id)
        rows = await directory.participants(activity_id, status)
        if member is not None and not sees_people(member.role):  # a viewer's personal token: no names or addresses
            rows = [without_people(row) for row in rows]
        return [ParticipantOut(**row) for row in rows]

    @router.get(
        "/activities/{activity_id}/undeliverable", response_model=list[UndeliverableOut], responses=_errors(404)
    )
    async def undeliverable(activity_id: str) -> list[UndeliverableOut]:
        """E-mails of the activity that could not be delivered and are not retried: to whom, which mailing, why."""
        await known(activity_id)
        return [UndeliverableOut(**row) for row in await service.undeliverable(activity_id)]

    @router.post("/activities/{activity_id}/decision", response_model=DecisionOut, responses=_errors(404, 409, 422))
    async def decide(
        activity_id: str, body: DecisionIn, holder: StaffMember | None = Depends(require_token)
    ) -> DecisionOut:
        """The coordinator's decision when enrolment is low: run, cancel, extend (`until`) or postpone (`plan`)."""
        await known(activity_id)
        if body.action is OverrideAction.EXTEND and body.until is None:
            raise HTTPException(422, "extend needs 'until' with the new deadline")
        if body.until is not None and body.action is not OverrideAction.EXTEND:
            raise HTTPException(422, "'until' only goes with extend")
        if body.until is not None and body.until.tzinfo is None:
            raise HTTPException(422, f"'until' needs a timezone offset, e.g. {body.until.isoformat()}+01:00")
        if body.action is OverrideAction.POSTPONE and body.plan is None:
            raise HTTPException(422, "postpone needs 'plan' with the new plan")
        if body.plan is not None and body.action is not OverrideAction.POSTPONE:
            raise HTTPException(422, "'plan' only goes with postpone")
        plan = None
        if body.plan is not None:
            try:
                plan = parse_plan(body.plan, reference)
            except PlanError as exc:
                raise _problems(exc) from None
            if plan.id != activity_id:
                raise HTTPException(422, f"the plan is for {plan.id!r}, not {shown(activity_id)}")
        try:
            phase = await service.decide(
                activity_id, body.action, until=body.until, plan=plan, staff_id=holder.id if holder else None
            )
        except Refused as exc:
            raise refused(exc) from None
        return DecisionOut(id=activity_id, action=body.action, phase=phase)

    @router.post("/activities/{activity_id}/attendance", response_model=AttendanceOut, responses=_errors(404, 409, 422))
    async def attendance(
        activity_id: str, body: AttendanceIn, holder: StaffMember | None = Depends(require_token)
    ) -> AttendanceOut:
        """Record who was present at a session. An e-mail not registered for the activity is a 409."""
        await known(activity_id)
        try:
            count = await service.attendance(
                activity_id, body.session_no, list(body.present), staff_id=holder.id if holder else None
            )
        except Refused as exc:
            raise refused(exc) from None
        return AttendanceOut(id=activity_id, session=body.session_no, present=count)

    async def report_row(activity_id: str) -> Report:
        await known(activity_id)
        row = await directory.report(activity_id)
        if row is None:
            raise HTTPException(404, f"no report for {shown(activity_id)} yet (it is made when the activity completes)")
        return row

    def download(content: str | bytes, media_type: str, filename: str) -> Response:
        return Response(
            content, media_type=media_type, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    @router.get("/activities/{activity_id}/report", response_model=ReportSummary, responses=_errors(404))
    async def report_summary(activity_id: str) -> ReportSummary:
        """The final report's summary (counts per organisation, role and session)."""
        row = await report_row(activity_id)
        return ReportSummary(id=activity_id, created_at=row.created_at, summary=json.loads(row.summary_json))

    @router.get(
        "/activities/{activity_id}/report.md",
        response_class=Response,
        responses={200: {"content": {"text/markdown": {}}}, **_errors(404)},
    )
    async def report_markdown(activity_id: str) -> Response:
        """The final report as Markdown."""
        row = await report_row(activity_id)
        return download(row.markdown, "text/markdown; charset=utf-8", f"{activity_id}.md")

    @router.get(
        "/activities/{activity_id}/report.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}, **_errors(404)},
    )
    async def report_csv(activity_id: str) -> Response:
        """The final report's table as CSV."""
        row = await report_row(activity_id)
        return download(row.csv, "text/csv; charset=utf-8", f"{activity_id}.csv")

    @router.get(
        "/activities/{activity_id}/report.png",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, **_errors(404)},
    )
    async def report_png(activity_id: str) -> Response:
        """The chart of participants per municipality/organisation."""
        row = await report_row(activity_id)
        return download(row.chart_png, "image/png", f"{activity_id}.png")

    return router
