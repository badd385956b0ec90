"""What coordinators and participants can do, over Temporal and the store.

Used by the CLI and the web app alike. Personal data goes to the store; the
workflow gets ids only. Refusals raise `Refused` with a reason for people.
"""

from __future__ import annotations

import asyncio
import builtins
import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from activities_impl.store import Store, StoreError
from api.batches import Batches
from domain.email_address import InvalidEmail, parse_email
from domain.lifecycle import (
    ActivityStatus,
    AttendanceRequest,
    MessageRequest,
    OverrideAction,
    OverrideRequest,
    RegistrationBatch,
    RegistrationRequest,
    RegistrationResult,
    StaffId,
    WithdrawalRequest,
    WithdrawalResult,
)
from domain.messages import normalised_body, normalised_subject, text_refusal
from domain.plan import ActivityPlan
from domain.refusals import RefusalCode
from domain.segments import SegmentError, parse_segment
from domain.state import LifecycleInput
from workflows import search_attributes as sa
from workflows.activity_lifecycle import REGISTRATIONS_PER_UPDATE, ActivityLifecycleWorkflow, workflow_id

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")
LifecycleHandle = WorkflowHandle[ActivityLifecycleWorkflow, ActivityStatus]


class Refused(Exception):
    """The request was understood and refused: `code` (a `RefusalCode`) for programs and the Swedish text
    (`domain.texts.refusal_text`), the message (English) for logs and the CLI, `details` the numbers the text needs."""

    def __init__(self, message: str, code: str = RefusalCode.REFUSED, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.details = str(code), details or {}

    @classmethod
    def from_update(cls, exc: BaseException) -> Refused:
        """The workflow's refusal, carried as an ApplicationError whose type is the code."""
        cause: BaseException = exc
        while cause.__cause__ is not None and not isinstance(cause, ApplicationError):
            cause = cause.__cause__
        if not isinstance(cause, ApplicationError):
            return cls(str(cause))
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return cls(cause.message, cause.type or RefusalCode.REFUSED, details)


STAFF_ID: TypeAdapter[str | None] = TypeAdapter(StaffId | None)


def _staff_id(staff_id: str | None) -> str | None:
    """The staff id as given, refused (`invalid_staff_id`) unless it is an opaque id: it goes to Temporal."""
    try:
        return STAFF_ID.validate_python(staff_id)
    except ValidationError:
        raise Refused(
            "the staff id must be an opaque id (letters, digits, _ and -)", RefusalCode.INVALID_STAFF_ID
        ) from None


class Unconfirmed(Exception):
    """The workflow did not answer in time: the request may or may not have been carried out."""


def _copied(exc: Exception) -> Exception:
    """A fresh exception like `exc`, for each registration of a batch that failed as a whole."""
    if isinstance(exc, Refused):
        return Refused(str(exc), exc.code, exc.details)
    if isinstance(exc, Unconfirmed):
        return Unconfirmed(str(exc))
    return exc


# The server keeps at most 10 Updates in flight per workflow (history.maxInFlightUpdates) and refuses more;
# each process lets 8 through per activity and queues the rest, so a burst waits instead of failing.
UPDATES_IN_FLIGHT_PER_ACTIVITY = 8
# How long a person waits for the workflow's answer before being told "no answer in time, it may have been
# carried out" (HTTP 503): an Update that never answers (a stuck worker) must not hold its gate for ever. Longer
# than a registration takes when its worker dies (the 45 s start-to-close timeout, then the retry), shorter than
# the 60 s a reverse proxy usually waits.
UPDATE_ANSWER_SECONDS = 55.0


STORE_REFUSALS = {"unknown_activity": RefusalCode.NO_ACTIVITY, "unknown_organisation": RefusalCode.UNKNOWN_ORGANISATION}


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    """`running`, `completed`, ...; `unspecified` when the server gives none."""
    return status.name.lower() if status is not None else "unspecified"


class Service:
    def __init__(
        self,
        client: Client,
        store: Store,
        task_queue: str,
        *,
        update_timeout: float = UPDATE_ANSWER_SECONDS,
        updates_in_flight: int = UPDATES_IN_FLIGHT_PER_ACTIVITY,
    ):
        """`updates_in_flight`: how many Updates this process lets through per activity at once. The gates of all
        processes that send Updates (web replicas, CLI) must add up to no more than the server's
        `history.maxInFlightUpdates`: beyond it the server aborts Updates it had admitted (BENCHMARKS.md)."""
        self.client, self.store, self.task_queue = client, store, task_queue
        self.update_timeout = update_timeout
        self._gates: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(updates_in_flight))
        # Registrations waiting for an activity's gate go together, one `register_many` per batch (api/batches.py).
        self._registrations: Batches[RegistrationRequest, RegistrationResult] = Batches(
            self._gates, updates_in_flight, REGISTRATIONS_PER_UPDATE, _copied
        )

    async def _update(
        self,
        activity_id: str,
        handle: LifecycleHandle,
        update: UpdateMethodMultiParam[[ActivityLifecycleWorkflow, ArgT], ResultT],
        arg: ArgT,
    ) -> ResultT:
        """`_send_update` through the activity's gate."""
        async with self._gates[activity_id]:  # released however the Update ends: answer, refusal, timeout, cancel
            return await self._send_update(activity_id, handle, update, arg)

    async def _registered(
        self, activity_id: str, handle: LifecycleHandle, requests: builtins.list[RegistrationRequest]
    ) -> builtins.list[RegistrationResult | Exception]:
        """The workflow's answer to each of `requests` (called inside the gate): `register` for one, else one
        `register_many`, whose per-request refusals come back as `Refused`."""
        if len(requests) == 1:
            try:
                return [await self._send_update(activity_id, handle, ActivityLifecycleWorkflow.register, requests[0])]
            except Refused as exc:
                return [exc]
        answer = await self._send_update(
            activity_id, handle, ActivityLifecycleWorkflow.register_many, RegistrationBatch(requests=requests)
        )
        return [
            o.result if o.result is not None else Refused(o.message, o.refusal or RefusalCode.REFUSED, o.details)
            for o in answer.outcomes
        ]

    async def _send_update(
        self,
        activity_id: str,
        handle: LifecycleHandle,
        update: UpdateMethodMultiParam[[ActivityLifecycleWorkflow, ArgT], ResultT],
        arg: ArgT,
    ) -> ResultT:
        """Run an Update through the per-activity gate; refusals become `Refused`, no answer `Unconfirmed`.

        The server admits at most `history.maxInFlightUpdates` Updates per workflow at once (10 by default) and
        answers RESOURCE_EXHAUSTED to the next. The client's own RPC retries take that first; should they give up,
        the Update is sent again after a short, jittered pause, within the same time budget, with the same Update
        id, so a resend of one the server did take gets that one's outcome instead of being carried out twice.
        Several web processes share the server's limit when their gates add up to no more than it (see
        `__init__`; tests/integration/test_update_limit.py). Called inside the activity's gate."""
        try:
            async with asyncio.timeout(self.update_timeout):
                pause = 0.01
                update_id = str(uuid.uuid4())  # one id for every resend: the server answers a repeat once
                while True:
                    try:
                        return await handle.execute_update(
                            update, arg, id=update_id, rpc_timeout=timedelta(seconds=self.update_timeout)
                        )
                    except RPCError as exc:
                        if exc.status is not RPCStatusCode.RESOURCE_EXHAUSTED:
                            raise
                    await asyncio.sleep(pause * (0.5 + random.random()))  # noqa: S311 - jitter, not a secret
                    pause = min(pause * 2, 0.5)
        except WorkflowUpdateFailedError as exc:
            raise Refused.from_update(exc) from None
        except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError, TimeoutError) as exc:
            raise Unconfirmed(
                f"no answer from the workflow of {activity_id!r} "
                f"({type(exc).__name__}); it may still have been carried out"
            ) from None

    def handle(self, activity_id: str) -> LifecycleHandle:
        return self.client.get_workflow_handle_for(ActivityLifecycleWorkflow.run, workflow_id(activity_id))

    async def _running_handle(self, activity_id: str) -> LifecycleHandle:
        handle = self.handle(activity_id)
        await self._check_running(activity_id, handle)
        return handle

    async def _check_running(self, activity_id: str, handle: LifecycleHandle) -> None:
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise Refused(f"no activity {activity_id!r}", RefusalCode.NO_ACTIVITY) from None
            raise
        if description.status is not WorkflowExecutionStatus.RUNNING:
            raise Refused(
                f"activity {activity_id!r} has ended ({_status_name(description.status)})", RefusalCode.ACTIVITY_ENDED
            )

    # -- coordinator -----------------------------------------------------
    async def start(self, plan: ActivityPlan, *, continue_as_new_after_events: int | None = None) -> LifecycleHandle:
        try:
            await self.handle(plan.id).describe()
            raise Refused(f"activity {plan.id!r} has already been started", RefusalCode.ALREADY_STARTED)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
        # The line it names must be in its year's action plan (when one is stored): checked before anything is saved.
        for problem in await asyncio.to_thread(self.store.action_plan_line_problems, plan):
            raise Refused(problem.message, RefusalCode.UNKNOWN_ACTION_PLAN_LINE, problem.details)
        version = await asyncio.to_thread(self.store.save_plan, plan, True)
        lifecycle = plan.lifecycle(version)
        return await self.client.start_workflow(
            ActivityLifecycleWorkflow.run,
            LifecycleInput(plan=lifecycle, continue_as_new_after_events=continue_as_new_after_events),
            id=workflow_id(plan.id),
            task_queue=self.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo={"title": plan.title, "format": plan.format.value},
            search_attributes=sa.at_start(
                focus_area=plan.focus_area,
                first_session_start=plan.sessions[0].start,
                below_minimum=plan.min_participants > 0,
            ),
            static_summary=f"{plan.title} ({plan.id})",
        )

    async def status(self, activity_id: str) -> ActivityStatus:
        handle = self.handle(activity_id)
        try:
            return await handle.query(ActivityLifecycleWorkflow.status)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise Refused(f"no activity {activity_id!r}", RefusalCode.NO_ACTIVITY) from None
            raise

    async def undeliverable(self, activity_id: str) -> list[dict[str, Any]]:
        """The activity's e-mails that could not be delivered: to whom, which mailing, why, when queued."""
        rows = await asyncio.to_thread(self.store.undeliverable, activity_id)
        return [
            {"recipient": r.recipient, "purpose": r.purpose, "reason": r.error, "queued_at": r.created_at.isoformat()}
            for r in rows
        ]

    @staticmethod
    def visibility_query(phase: str | None = None, below_minimum: bool | None = None) -> str:
        """The Temporal visibility query for activities (the same one to paste into the UI)."""
        query = 'WorkflowType = "ActivityLifecycleWorkflow"'
        if phase:
            query += f' AND {sa.PHASE.name} = "{phase}"'
        if below_minimum is not None:
            query += f" AND {sa.BELOW_MINIMUM.name} = {str(below_minimum).lower()}"
        return query

    async def list(self, phase: str | None = None, below_minimum: bool | None = None) -> list[dict[str, Any]]:
        query = self.visibility_query(phase, below_minimum)
        rows = []
        async for wf in self.client.list_workflows(query):
            attrs = wf.typed_search_attributes
            first_session_start = attrs.get(sa.FIRST_SESSION_START)
            rows.append(
                {
                    "id": wf.id.removeprefix("activity-"),
                    "workflow_id": wf.id,
                    "status": _status_name(wf.status),
                    "phase": attrs.get(sa.PHASE),
                    "confirmed": attrs.get(sa.CONFIRMED_COUNT),
                    "below_minimum": attrs.get(sa.BELOW_MINIMUM),
                    "focus_area": attrs.get(sa.FOCUS_AREA),
                    "first_session_start": first_session_start.isoformat() if first_session_start else None,
                }
            )
        return rows

    async def decide(
        self,
        activity_id: str,
        action: OverrideAction,
        *,
        until: datetime | None = None,
        plan: ActivityPlan | None = None,
        staff_id: str | None = None,
    ) -> str:
        """The coordinator's decision (run, extend, postpone, cancel); `staff_id` names who decided in the status and
        the audit log. The workflow's phase after it."""
        staff_id = _staff_id(staff_id)
        handle = await self._running_handle(activity_id)
        lifecycle = None
        if plan is not None:
            if plan.id != activity_id:
                raise Refused(f"the plan is for {plan.id!r}, not {activity_id!r}", RefusalCode.PLAN_OTHER_ACTIVITY)
            version = await asyncio.to_thread(self.store.save_plan, plan, False)
            lifecycle = plan.lifecycle(version)
        return await self._update(
            activity_id,
            handle,
            ActivityLifecycleWorkflow.decide_override,
            OverrideRequest(action=action, until=until, plan=lifecycle, staff_id=staff_id),
        )

    # From here on, `list` in this class body is the method above: annotations spell the builtin `builtins.list`.
    async def attendance(
        self, activity_id: str, session_no: int, emails: builtins.list[str], staff_id: str | None = None
    ) -> int:
        """Mark people present at a session, by e-mail address (the CLI); how many are present now."""
        staff_id = _staff_id(staff_id)
        handle = await self._running_handle(activity_id)
        ids: list[int] = []
        for email in emails:
            person = await asyncio.to_thread(self.store.participant_by_email, activity_id, email)
            if person is None:
                raise Refused(f"{email} is not registered for {activity_id}", RefusalCode.NOT_REGISTERED)
            assert person.id is not None  # a stored row has its primary key
            ids.append(person.id)
        return await self._update(
            activity_id,
            handle,
            ActivityLifecycleWorkflow.record_attendance,
            AttendanceRequest(session_no=session_no, present=ids, staff_id=staff_id),
        )

    async def attendance_by_ids(
        self,
        activity_id: str,
        session_no: int,
        participant_ids: builtins.list[int],
        staff_id: str | None = None,
    ) -> int:
        """Mark people present at a session by participant id (the back-office's boxes); how many are present now.

        Ids of people not registered for this activity are refused (`not_registered`, their ids in the details)."""
        staff_id = _staff_id(staff_id)
        handle = await self._running_handle(activity_id)
        wanted = sorted(set(participant_ids))
        ours = {p.id for p in await asyncio.to_thread(self.store.participants, wanted) if p.activity_id == activity_id}
        unknown = [pid for pid in wanted if pid not in ours]
        if unknown:
            raise Refused(
                f"not registered for {activity_id}: participant(s) {', '.join(map(str, unknown))}",
                RefusalCode.NOT_REGISTERED,
                {"participant_ids": unknown},
            )
        return await self._update(
            activity_id,
            handle,
            ActivityLifecycleWorkflow.record_attendance,
            AttendanceRequest(session_no=session_no, present=wanted, staff_id=staff_id),
        )

    async def send_message(self, activity_id: str, segment: str, subject: str, body: str, staff_id: str) -> int:
        """Send a coordinator's message to a segment of the activity (`domain.segments`: "confirmed", "present:2",
        ...); the number of recipients, resolved when the workflow takes it.

        The text is checked (`domain.messages.text_refusal`) and stored; the workflow's `send_message` Update gets
        only its id and sends it through the outbox, once per recipient. A message the workflow refuses (the
        activity anonymised) is not kept."""
        staff = _staff_id(staff_id)
        if staff is None:
            raise Refused("a message needs the staff id of who sends it", RefusalCode.INVALID_STAFF_ID)
        subject, body = normalised_subject(subject), normalised_body(body)
        why = text_refusal(subject, body)
        if why:
            raise Refused(why.message, why.code, why.details)
        try:
            plan = await asyncio.to_thread(self.store.plan, activity_id)
        except StoreError:
            raise Refused(f"no activity {activity_id!r}", RefusalCode.NO_ACTIVITY) from None
        try:
            code = parse_segment(segment, plan).code
        except SegmentError as exc:
            # the details carry the Swedish sentence that says what is wrong with it (e.g. no such session)
            raise Refused(
                f"unknown segment {segment[:40]!r}", RefusalCode.UNKNOWN_SEGMENT, {"text": exc.text}
            ) from None
        handle = await self._running_handle(activity_id)
        message_id = await asyncio.to_thread(
            self.store.save_message,
            activity_id=activity_id,
            segment=code,
            subject=subject,
            body=body,
            staff_id=staff,
        )
        try:
            return await self._update(
                activity_id,
                handle,
                ActivityLifecycleWorkflow.send_message,
                MessageRequest(message_id=message_id, staff_id=staff),
            )
        except Refused as exc:
            if exc.code != RefusalCode.MESSAGE_FAILED:  # refused before anything was done: leave nothing behind
                await asyncio.to_thread(self.store.discard_message, message_id)
            raise

    # -- participants ----------------------------------------------------
    async def register(
        self,
        activity_id: str,
        *,
        name: str,
        email: str,
        organisation: str,
        role: str,
        school: str | None = None,
        team_size: int = 1,
        team_members: builtins.list[str] | None = None,
    ) -> RegistrationResult:
        """Store the person (and team), then ask the workflow for a seat; a refusal leaves nothing behind.

        Before the Update: one store call (the person, idempotent by activity and e-mail) while the workflow is
        checked to be running. The workflow answers as soon as the seat is taken; the registration row and the
        confirmation e-mail follow from the workflow."""
        if team_members:
            team_size = len(team_members)
        try:
            email = parse_email(email)  # one mailbox, one seat: "Anna@Skola.se " is anna@skola.se
        except InvalidEmail as exc:
            raise Refused(str(exc), RefusalCode.INVALID_EMAIL) from None
        handle = self.handle(activity_id)
        running, enrolled = await asyncio.gather(
            self._check_running(activity_id, handle),
            asyncio.to_thread(
                self.store.enrol_participant,
                activity_id,
                name=name,
                email=email,
                organisation_id=organisation,
                role=role,
                school=school,
                team_members=team_members,
            ),
            return_exceptions=True,
        )
        if isinstance(running, BaseException):  # no workflow to ask (the first reason, as before the store)
            if not isinstance(enrolled, BaseException) and not enrolled[1]:
                await asyncio.to_thread(self.store.discard_participant_if_unregistered, enrolled[0])
            raise running
        if isinstance(enrolled, StoreError):
            raise Refused(str(enrolled), STORE_REFUSALS.get(enrolled.code, RefusalCode.REFUSED)) from None
        if isinstance(enrolled, BaseException):
            raise enrolled
        participant_id, existed = enrolled
        try:
            result = await self._registrations.submit(
                activity_id,
                RegistrationRequest(participant_id=participant_id, team_size=team_size),
                lambda requests: self._registered(activity_id, handle, requests),
            )
        except Refused as exc:
            # A person stored by this call goes again, unless the workflow holds a seat for them: "already
            # registered" means a request racing this one (same address) registered the row this call stored.
            if not existed and exc.code != RefusalCode.ALREADY_REGISTERED:
                await asyncio.to_thread(self.store.discard_participant_if_unregistered, participant_id)
            raise
        # Unconfirmed: the person stays stored, since the workflow may have given them a seat.
        if team_members and existed:  # registering again after a withdrawal
            await asyncio.to_thread(self.store.set_team_members, participant_id, team_members)
        return result

    async def withdraw_registration(self, registration_id: str) -> WithdrawalResult:
        """Withdraw through a personal link: only the registration the link was made for."""
        found = await asyncio.to_thread(self.store.registration, registration_id)
        if found is None:
            raise Refused("not registered for this activity", RefusalCode.NOT_REGISTERED)
        registration, participant = found
        assert participant.id is not None  # a stored row has its primary key
        if registration.status not in ("confirmed", "waitlisted"):
            raise Refused("not registered for this activity", RefusalCode.NOT_REGISTERED)
        handle = await self._running_handle(registration.activity_id)
        return await self._update(
            registration.activity_id,
            handle,
            ActivityLifecycleWorkflow.withdraw,
            WithdrawalRequest(participant_id=participant.id),
        )

    async def withdraw(self, activity_id: str, email: str) -> WithdrawalResult:
        handle = await self._running_handle(activity_id)
        person = await asyncio.to_thread(self.store.participant_by_email, activity_id, email)
        if person is None:
            raise Refused(f"{email} is not registered for {activity_id}", RefusalCode.NOT_REGISTERED)
        assert person.id is not None  # a stored row has its primary key
        return await self._update(
            activity_id, handle, ActivityLifecycleWorkflow.withdraw, WithdrawalRequest(participant_id=person.id)
        )
