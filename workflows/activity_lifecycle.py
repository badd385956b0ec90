"""ActivityLifecycleWorkflow: one long-running workflow per activity (DESIGN.md §4).

    planned ─► open ──(deadline)──► deciding ─┬─► confirmed ─► running ─► evaluating ─► follow_up ─► completed ─► anonymised
                 ▲  reminders while below min │
                 └──────── postponed ◄────────┤
                                              └─► cancelled ─────────────────────────────────────────────────► anonymised

The workflow owns seat allocation and the phase. Everything it carries is ids,
times and counts; people live in the store, reached only through activities.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    # The activities' class, for typed calls by method (its module's I/O libraries are never used here).
    from activities_impl.lifecycle_activities import LifecycleActivities
    from domain.commands import (
        Announcement,
        AnnouncementKind,
        AttendanceRecord,
        DeadlineReminder,
        DecisionRecord,
        LowEnrolmentNotice,
        MessageRef,
        MessageSend,
        PlanRef,
        RegistrationChange,
        RegistrationRecord,
        SeatChange,
        SeatChanges,
        SessionReminder,
        SurveySend,
        SurveyStep,
        WithdrawalChange,
        WithdrawalRecord,
    )
    from domain.lifecycle import (
        ActivityStatus,
        AttendanceRequest,
        Decision,
        DecisionBy,
        LifecyclePlan,
        MessageRequest,
        NextDue,
        OverrideAction,
        OverrideRequest,
        RegistrationBatch,
        RegistrationBatchResult,
        RegistrationOutcome,
        RegistrationRequest,
        RegistrationResult,
        SeatStatus,
        SessionStatus,
        WithdrawalRequest,
        WithdrawalResult,
    )
    from domain.messages import sending_refusal
    from domain.phases import Phase
    from domain.refusals import Refusal, RefusalCode, refusal
    from domain.rules import (
        DeadlineOutcome,
        attendance_refusal,
        deadline_outcome,
        needs_reminder,
        override_refusal,
        registration_refusal,
        withdrawal_refusal,
    )
    from domain.schedule import (
        DEADLINE_REMINDER,
        FINAL,
        FOLLOW_UP,
        REPORT,
        Action,
        Step,
        StepKind,
        agenda,
        deadline_reminders,
        session_survey,
        step_key,
    )
    from domain.state import LifecycleInput, LifecycleState
    from workflows import search_attributes as sa
    from workflows.lifecycle_data import ACTIVITY_TIMEOUTS, BULK_MAIL, MAILING, ONE_ROW, Unrecorded

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=2)
)


GIVEN_UP = (RetryState.NON_RETRYABLE_FAILURE, RetryState.MAXIMUM_ATTEMPTS_REACHED)  # the step will not succeed
# The activities' timeouts are in workflows.lifecycle_data (ACTIVITY_TIMEOUTS), defined once per worker.
SEAT_CHANGES_PER_BATCH = 100  # answered seat changes recorded by one `record_seat_changes`
REGISTRATIONS_PER_UPDATE = 25  # the most `register_many` takes at once (the web's batches are no larger)
BUSY = refusal(RefusalCode.DECISION_BUSY, "another decision is being applied, try again")

# Patches (README: "Changing the workflow safely"). Each is decided once per run, where it is first asked: histories
# recorded before it keep their path, new runs (and runs that had not reached that point) take the new one.
# register/withdraw answer once the seat is taken; the store and the e-mails follow, in order, in batches.
ANSWER_BEFORE_RECORDING = "answer-before-recording"
# registration opens at `opens`; making the plan current and the invitation mailing run alongside.
OPEN_BEFORE_INVITING = "open-before-inviting"
# search attributes: one upsert per workflow task, of what changed in it (asked first when the run starts).
SEARCH_ATTRIBUTES_ONCE_PER_TASK = "search-attributes-once-per-task"
# a cancellation's decision counts the seats as they were, not after cancelling them (it said 0 before).
CANCEL_COUNTS_SEATS_FIRST = "cancel-counts-seats-first"
# mailings heartbeat while they run: a heartbeat timeout of 15 s instead of a minute (decided at the first mailing).
MAILINGS_HEARTBEAT_OFTEN = "mailings-heartbeat-15-seconds"


def refused(why: Refusal) -> ApplicationError:
    """A refusal as Temporal carries it: the code as the error's type, the numbers as its details."""
    return ApplicationError(why.message, why.details, type=why.code.value, non_retryable=True)


A = TypeVar("A")
R = TypeVar("R")


def workflow_id(activity_id: str) -> str:
    return f"activity-{activity_id}"


@workflow.defn
class ActivityLifecycleWorkflow:
    @workflow.init
    def __init__(self, input: LifecycleInput) -> None:
        if input.state is not None:
            self.s = input.state
        elif input.plan is not None:
            self.s = LifecycleState.start(input.plan)
        else:
            raise ApplicationError("the workflow needs a plan or a state", non_retryable=True)
        self.threshold = input.continue_as_new_after_events
        self.next_due: NextDue | None = None
        self.woken = False
        self.override: OverrideRequest | None = None
        self.override_outcome: Refusal | str | None = None  # the phase it led to, or why it was refused
        self.seat_changes_in_flight = 0  # register/withdraw handlers still recording their change in the store
        # Answered seat changes not yet in the store, in the order taken, recorded by `record_seat_changes` (the first
        # ones may be in the activity running now). Always empty on the path of histories before the patch.
        self.unrecorded: list[Unrecorded] = []
        self.recorder: asyncio.Task[None] | None = None
        self.tasks: list[asyncio.Task[None]] = []  # the run's other coroutines (invitation, search attributes)
        self.inviting = False  # the invitation mailing started at opening is still going out
        self.search_attributes_per_task: bool | None = None  # decided on first use (patch)
        self.search_attributes_dirty = False
        self.messages_in_flight = 0  # send_message handlers still resolving or mailing their segment
        self.anonymising = False  # from the end of retention: no new messages, the people are being erased

    # ------------------------------------------------------------------
    # The lifecycle, one step per phase
    # ------------------------------------------------------------------
    @workflow.run
    async def run(self, input: LifecycleInput) -> ActivityStatus:
        self.sync_search_attributes()
        await self.open_registration()  # planned -> open: invitation to the target group
        while self.phase in (Phase.OPEN, Phase.DECIDING):
            await self.take_registrations()  # open: reminders while below the minimum, until the deadline
            await self.decide_at_deadline()  # deciding -> confirmed | open (extended, postponed) | cancelled
        if self.phase is not Phase.CANCELLED:
            await self.run_sessions()  # confirmed -> running: session reminders, attendance, surveys
            await self.evaluate()  # evaluating: final evaluation survey
            await self.follow_up()  # follow_up: follow-up survey
            await self.report()  # completed: final report to the organiser
        await self.anonymise_after_retention()  # anonymised: personal data erased, counts kept
        if not workflow.all_handlers_finished():
            await workflow.wait_condition(workflow.all_handlers_finished)
        await self.recorded()
        self.flush_search_attributes()
        return self.status()

    # -- planned -> open ---------------------------------------------------
    async def open_registration(self) -> None:
        if self.phase is not Phase.PLANNED:
            return
        while not await self.sleep_until(self.plan.opens, "registration opens"):
            await self.apply_override()
        if workflow.patched(OPEN_BEFORE_INVITING):
            self.set_phase(Phase.OPEN)  # registrations are taken from now on, while the invitation goes out
            self.inviting = True
            self.tasks.append(asyncio.create_task(self.invite()))  # waited for through `invited`
            return
        await self.activity(LifecycleActivities.make_plan_current, self.ref())
        await self.activity(LifecycleActivities.send_invitation, self.ref())
        self.set_phase(Phase.OPEN)

    async def invite(self) -> None:
        """Make the plan current and mail the invitation to the target group (a task started at opening)."""
        try:
            await self.activity(LifecycleActivities.make_plan_current, self.ref())
            await self.activity(LifecycleActivities.send_invitation, self.ref())
        finally:
            self.inviting = False

    async def invited(self) -> None:
        """Wait until the invitation mailing started at opening is done: before reminders (which must follow it), a
        decision, continue-as-new and anonymisation. Returns at once, without yielding, when none is going out."""
        if self.inviting:
            await workflow.wait_condition(lambda: not self.inviting)

    # -- open --------------------------------------------------------------
    async def take_registrations(self) -> None:
        while self.phase is Phase.OPEN:
            if await self.apply_override():
                continue
            reminders = [t for t in deadline_reminders(self.plan) if self.reminder_key(t) not in self.s.done]
            overdue = [t for t in reminders if t <= workflow.now()]
            for skipped in overdue[:-1]:  # e.g. after an extension: send only the latest overdue reminder
                self.s.done[self.reminder_key(skipped)] = workflow.now()
            reminders = reminders[max(0, len(overdue) - 1) :]
            if reminders:
                if await self.sleep_until(reminders[0], "reminder to the target group"):
                    await self.remind_target_group(reminders[0])
            elif await self.sleep_until(self.plan.deadline, "registration deadline"):
                self.set_phase(Phase.DECIDING)

    async def remind_target_group(self, due: datetime) -> None:
        await self.invited()  # the reminder follows the invitation
        if needs_reminder(self.s.book.confirmed, self.plan.min_participants):
            await self.activity(
                LifecycleActivities.send_deadline_reminder, DeadlineReminder(**self.ref().model_dump(), due=due)
            )
        else:
            workflow.logger.info("Reminder skipped: minimum reached", extra={"due": due.isoformat()})
        self.s.done[self.reminder_key(due)] = workflow.now()

    def reminder_key(self, due: datetime) -> str:
        return f"{DEADLINE_REMINDER}:{due.isoformat()}"

    # -- deciding ----------------------------------------------------------
    async def decide_at_deadline(self) -> None:
        await self.invited()
        await self.settle_seat_changes()  # registration is closed: let those already taken reach the store
        while self.phase is Phase.DECIDING:
            if await self.apply_override():
                continue
            if deadline_outcome(self.s.book.confirmed, self.plan.min_participants) is DeadlineOutcome.CONFIRM:
                await self.confirm(DecisionBy.ENGINE, "minimum reached at the deadline")
                return
            if self.s.grace_until is None:
                self.s.grace_until = workflow.now() + self.plan.grace_period
                await self.decide(
                    "awaiting_coordinator",
                    DecisionBy.ENGINE,
                    f"{self.s.book.confirmed} registered, minimum {self.plan.min_participants}",
                )
                await self.activity(
                    LifecycleActivities.notify_low_enrolment,
                    LowEnrolmentNotice(
                        **self.ref().model_dump(), confirmed=self.s.book.confirmed, grace_until=self.s.grace_until
                    ),
                )
            if await self.sleep_until(self.s.grace_until, "automatic cancel unless the coordinator decides"):
                await self.cancel(
                    DecisionBy.ENGINE, "below the minimum and no decision within the grace period", low_enrolment=True
                )

    async def apply_override(self) -> bool:
        """Apply the coordinator's pending decision, if any (refused when the phase moved on meanwhile)."""
        if self.override is None:
            return False
        await self.invited()  # e.g. a postponement makes its plan current after the opening's
        req, self.override = self.override, None
        if req is None:
            return False
        refusal = override_refusal(self.phase, self.plan, req, workflow.now())
        if refusal:
            self.override_outcome = refusal
            return True
        if req.action is OverrideAction.RUN:
            await self.confirm(DecisionBy.COORDINATOR, "run despite low enrolment", req.staff_id)
        elif req.action is OverrideAction.CANCEL:
            await self.cancel(
                DecisionBy.COORDINATOR,
                "cancelled by the coordinator",
                low_enrolment=self.phase is Phase.DECIDING,
                staff_id=req.staff_id,
            )
        elif req.action is OverrideAction.EXTEND:
            assert req.until is not None
            self.s.plan = self.plan.model_copy(update={"deadline": req.until})
            await self.reopen("extend", f"deadline extended to {req.until.isoformat()}", req.staff_id)
        else:
            assert req.plan is not None
            self.s.plan = req.plan
            await self.activity(LifecycleActivities.make_plan_current, self.ref())
            await self.reopen(
                "postpone",
                f"postponed to plan version {req.plan.version}, first session {req.plan.first_start.isoformat()}",
                req.staff_id,
            )
            await self.announce(AnnouncementKind.POSTPONED)
        self.override_outcome = self.phase.value
        return True

    async def reopen(self, kind: str, reason: str, staff_id: str | None) -> None:
        self.s.grace_until = None
        self.s.book.capacity = self.plan.places
        self.s.book.promote()
        self.set_phase(Phase.OPEN)
        await self.decide(kind, DecisionBy.COORDINATOR, reason, staff_id)

    async def confirm(self, by: DecisionBy, reason: str, staff_id: str | None = None) -> None:
        self.set_phase(Phase.CONFIRMED)
        await self.decide("confirm", by, reason, staff_id)
        await self.announce(AnnouncementKind.CONFIRMED)

    async def cancel(self, by: DecisionBy, reason: str, low_enrolment: bool, staff_id: str | None = None) -> None:
        self.set_phase(Phase.CANCELLED)  # no new registrations; those in flight are told too
        await self.settle_seat_changes()
        confirmed = [s.registration_id for s in self.s.book.with_status(SeatStatus.CONFIRMED)]
        waitlisted = [s.registration_id for s in self.s.book.with_status(SeatStatus.WAITLISTED)]
        seats_taken = self.s.book.confirmed
        self.s.book.cancel_all()
        self.s.ended_at = workflow.now()
        counted = seats_taken if workflow.patched(CANCEL_COUNTS_SEATS_FIRST) else None
        await self.decide("cancel", by, reason, staff_id, confirmed=counted)
        await self.activity(
            LifecycleActivities.announce,
            Announcement(
                **self.ref().model_dump(),
                kind=AnnouncementKind.CANCELLED,
                confirmed_ids=confirmed,
                waitlisted_ids=waitlisted,
                low_enrolment=low_enrolment,
            ),
        )

    async def announce(self, kind: AnnouncementKind) -> None:
        await self.settle_seat_changes()  # everyone told must be in the store
        await self.activity(
            LifecycleActivities.announce,
            Announcement(
                **self.ref().model_dump(),
                kind=kind,
                confirmed_ids=[s.registration_id for s in self.s.book.with_status(SeatStatus.CONFIRMED)],
                waitlisted_ids=[s.registration_id for s in self.s.book.with_status(SeatStatus.WAITLISTED)],
            ),
        )

    async def settle_seat_changes(self) -> None:
        """Wait until registrations and withdrawals already taken have been recorded in the store.

        Only when one is in flight: waiting yields to other coroutines, which would reorder commands.
        """
        if self.seat_changes_in_flight:
            await workflow.wait_condition(lambda: self.seat_changes_in_flight == 0)
        await self.recorded()

    async def recorded(self) -> None:
        """Wait until every seat change already answered is in the store (those answered before recording). Returns
        at once, without yielding, when none is waiting: always so on the path of histories before the patch."""
        if self.unrecorded:
            await workflow.wait_condition(lambda: not self.unrecorded)

    def seat_change_taken(self, change: SeatChange) -> None:
        """Queue an answered seat change for the store and its e-mail; the recorder starts with the first."""
        self.unrecorded.append(Unrecorded(self.plan.version, change))
        if self.recorder is None:
            self.recorder = asyncio.create_task(self.record_seat_changes())

    async def record_seat_changes(self) -> None:
        """Record the answered seat changes in the store and confirm them by e-mail, in the order taken: one activity
        for all those waiting (of one plan version, at most SEAT_CHANGES_PER_BATCH), the next when it is done.

        A change that can never be recorded is reported by the activity and recorded as `step_failed`, as is a batch
        that fails as a whole; either way it leaves the queue, so nothing waiting on the store stalls."""
        while True:
            await workflow.wait_condition(lambda: bool(self.unrecorded))
            version = self.unrecorded[0].plan_version
            batch: list[SeatChange] = []
            for waiting in self.unrecorded[:SEAT_CHANGES_PER_BATCH]:
                if waiting.plan_version != version:
                    break
                batch.append(waiting.change)
            result = await self.activity(
                LifecycleActivities.record_seat_changes,
                SeatChanges(activity_id=self.plan.activity_id, plan_version=version, changes=batch),
            )
            for failed in result.failed if result is not None else []:
                await self.decide(
                    "step_failed",
                    DecisionBy.ENGINE,
                    f"record_seat_changes failed for {failed.registration_id} and is not retried: {failed.cause}",
                )
            del self.unrecorded[: len(batch)]

    async def decide(
        self, kind: str, by: DecisionBy, reason: str, staff_id: str | None = None, confirmed: int | None = None
    ) -> None:
        """Record a decision with the seats it was taken on (`confirmed`: those counted before it changed them)."""
        decision = Decision(
            at=workflow.now(),
            kind=kind,
            by=by,
            reason=reason,
            confirmed=self.s.book.confirmed if confirmed is None else confirmed,
            min_participants=self.plan.min_participants,
            staff_id=staff_id,
        )
        self.s.decisions.append(decision)
        workflow.logger.info("Decision: %s by %s (%s)", kind, by.value, reason)
        await self.activity(
            LifecycleActivities.record_decision,
            DecisionRecord(
                activity_id=self.plan.activity_id, key=f"decision-{len(self.s.decisions)}", decision=decision
            ),
        )

    # -- confirmed -> running -> evaluating -> follow_up -> completed -----
    async def run_sessions(self) -> None:
        await self.work_agenda(through=step_key(session_survey(self.plan.sessions[-1].no), Action.SEND))

    async def evaluate(self) -> None:
        await self.work_agenda(through=step_key(FINAL, Action.SEND))

    async def follow_up(self) -> None:
        await self.work_agenda(through=step_key(FOLLOW_UP, Action.SEND))

    async def report(self) -> None:
        await self.work_agenda(through=step_key(REPORT))

    async def work_agenda(self, through: str) -> None:
        """Take the agenda's steps in time order until `through` is done (steps of several phases may interleave)."""
        while through not in self.s.done:
            steps = agenda(self.plan, self.s.done, set(self.s.attendance))
            if not steps:
                return
            step = steps[0]
            if await self.apply_override():
                continue
            if await self.sleep_until(step.due, step.key):
                await self.take_step(step)
                self.s.done[step.key] = workflow.now()

    async def take_step(self, step: Step) -> None:
        no = step.session_no
        survey = step.survey or ""  # every survey step names its survey (domain.schedule)
        if step.kind is StepKind.SESSION_REMINDER:
            session = self.plan.session(no) if no is not None else None
            if session is not None and workflow.now() < session.start:
                await self.activity(
                    LifecycleActivities.send_session_reminder,
                    SessionReminder(
                        **self.ref().model_dump(), session_no=session.no, participant_ids=self.confirmed_participants()
                    ),
                )
        elif step.kind is StepKind.SESSION_START:
            if self.phase is Phase.CONFIRMED:
                self.set_phase(Phase.RUNNING)
        elif step.kind is StepKind.SURVEY_SEND:
            if step.survey == FINAL:
                self.set_phase(Phase.EVALUATING)
            elif step.survey == FOLLOW_UP:
                self.set_phase(Phase.FOLLOW_UP)
            await self.send_survey(survey, self.survey_recipients(no))
        elif step.kind is StepKind.SURVEY_REMIND:
            await self.activity(
                LifecycleActivities.remind_survey,
                SurveyStep(**self.ref().model_dump(), survey=survey, at=workflow.now()),
            )
        elif step.kind is StepKind.SURVEY_CLOSE:
            count = await self.activity(
                LifecycleActivities.close_survey,
                SurveyStep(**self.ref().model_dump(), survey=survey, at=workflow.now()),
            )
            if count is not None:  # None: closing failed permanently (recorded as a decision)
                self.s.surveys[survey] = count
        elif step.kind is StepKind.REPORT:
            await self.recorded()  # the report counts what the store has
            await self.activity(LifecycleActivities.send_report, self.ref())
            self.set_phase(Phase.COMPLETED)
            self.s.ended_at = workflow.now()

    def survey_recipients(self, session_no: int | None) -> list[int]:
        """Those who attended the session (or, for the final and follow-up surveys, any session).

        Where attendance was never recorded, everyone confirmed counts as present.
        """
        if session_no is not None:
            return self.s.attendance.get(session_no, self.confirmed_participants())
        if any(s.no not in self.s.attendance for s in self.plan.sessions):
            return self.confirmed_participants()
        return sorted({p for present in self.s.attendance.values() for p in present})

    async def send_survey(self, survey: str, participant_ids: list[int]) -> None:
        sent_at = self.s.done.get(step_key(survey, Action.SEND), workflow.now())
        await self.activity(
            LifecycleActivities.send_survey,
            SurveySend(
                **self.ref().model_dump(),
                survey=survey,
                participant_ids=participant_ids,
                sent_at=sent_at,
                closes_at=sent_at + self.plan.survey_window,
            ),
        )

    # -- completed | cancelled -> anonymised --------------------------------
    async def anonymise_after_retention(self) -> None:
        if self.phase is Phase.ANONYMISED:
            return
        assert self.s.ended_at is not None
        while not await self.sleep_until(self.s.ended_at + self.plan.retention, "anonymisation"):
            await self.apply_override()
        self.anonymising = True  # messages are refused from now on; those being sent finish first
        if self.messages_in_flight:  # only then: waiting yields to other coroutines, which would reorder commands
            await workflow.wait_condition(lambda: self.messages_in_flight == 0)
        await self.invited()
        await self.recorded()
        await self.activity(LifecycleActivities.anonymise, self.ref())
        self.set_phase(Phase.ANONYMISED)
        await self.decide("anonymise", DecisionBy.ENGINE, f"retention period of {self.plan.retention} ended")

    # ------------------------------------------------------------------
    # Messages: registrations, withdrawals, attendance, the coordinator's decision
    # ------------------------------------------------------------------
    @workflow.update
    async def register(self, req: RegistrationRequest) -> RegistrationResult:
        refusal = registration_refusal(self.phase, self.plan, self.s.book, req)
        if refusal:  # re-checked: two updates may pass their validators in the same task
            raise refused(refusal)
        return await self.take_seat(req)

    @register.validator
    def validate_register(self, req: RegistrationRequest) -> None:
        refusal = registration_refusal(self.phase, self.plan, self.s.book, req)
        if refusal:
            raise refused(refusal)

    @workflow.update
    async def register_many(self, batch: RegistrationBatch) -> RegistrationBatchResult:
        """Several registrations in one Update, taken in the batch's order: each gets its seat or its refusal, as
        `register` would have answered it (a person twice in one batch: the second is already registered)."""
        outcomes: list[RegistrationOutcome] = []
        for req in batch.requests:
            refusal = registration_refusal(self.phase, self.plan, self.s.book, req)
            if refusal:
                outcomes.append(
                    RegistrationOutcome(refusal=refusal.code.value, message=refusal.message, details=refusal.details)
                )
            else:
                outcomes.append(RegistrationOutcome(result=await self.take_seat(req)))
        return RegistrationBatchResult(outcomes=outcomes)

    @register_many.validator
    def validate_register_many(self, batch: RegistrationBatch) -> None:
        """Rejected before it enters the history when it is empty or too long, or when every request in it would be
        refused for one and the same reason (e.g. registration closed), which is then everyone's answer."""
        if not 0 < len(batch.requests) <= REGISTRATIONS_PER_UPDATE:
            raise refused(refusal(RefusalCode.REFUSED, f"a batch holds 1 to {REGISTRATIONS_PER_UPDATE} registrations"))
        refusals = [registration_refusal(self.phase, self.plan, self.s.book, req) for req in batch.requests]
        first = refusals[0]
        if first is not None and all(r is not None and r.code is first.code for r in refusals):
            raise refused(first)

    async def take_seat(self, req: RegistrationRequest) -> RegistrationResult:
        """Give the (checked) request its seat; on the path of histories before `answer-before-recording`, the
        seat is recorded in the store before the answer."""
        seat = self.s.book.register(
            req.participant_id, req.team_size, registration_id=f"{self.plan.activity_id}-r{self.s.book.next_seq}"
        )
        position = self.s.book.waitlist_position(seat.registration_id)
        self.sync_search_attributes()
        result = RegistrationResult(
            registration_id=seat.registration_id, status=seat.status, waitlist_position=position
        )
        if workflow.patched(ANSWER_BEFORE_RECORDING):
            self.seat_change_taken(
                RegistrationChange(
                    registration_id=seat.registration_id,
                    participant_id=seat.participant_id,
                    status=seat.status,
                    team_size=seat.size,
                    seq=seat.seq,
                    waitlist_position=position,
                )
            )
            return result
        self.seat_changes_in_flight += 1
        try:
            await self.activity(
                LifecycleActivities.record_registration,
                RegistrationRecord(
                    **self.ref().model_dump(),
                    registration_id=seat.registration_id,
                    participant_id=seat.participant_id,
                    status=seat.status,
                    team_size=seat.size,
                    seq=seat.seq,
                    waitlist_position=position,
                ),
            )
        finally:
            self.seat_changes_in_flight -= 1
        return result

    @workflow.update
    async def withdraw(self, req: WithdrawalRequest) -> WithdrawalResult:
        refusal = withdrawal_refusal(self.phase, self.s.book, req.participant_id)
        if refusal:
            raise refused(refusal)
        seat = self.s.book.active_seat(req.participant_id)
        assert seat is not None
        previous = seat.status
        seat, promoted = self.s.book.withdraw(req.participant_id)
        self.sync_search_attributes()
        result = WithdrawalResult(
            registration_id=seat.registration_id,
            previous_status=previous,
            promoted=[p.registration_id for p in promoted],
        )
        if workflow.patched(ANSWER_BEFORE_RECORDING):
            self.seat_change_taken(WithdrawalChange(registration_id=seat.registration_id, promoted=result.promoted))
            return result
        self.seat_changes_in_flight += 1
        try:
            await self.activity(
                LifecycleActivities.record_withdrawal,
                WithdrawalRecord(
                    **self.ref().model_dump(),
                    registration_id=seat.registration_id,
                    promoted=[p.registration_id for p in promoted],
                ),
            )
        finally:
            self.seat_changes_in_flight -= 1
        return result

    @withdraw.validator
    def validate_withdraw(self, req: WithdrawalRequest) -> None:
        refusal = withdrawal_refusal(self.phase, self.s.book, req.participant_id)
        if refusal:
            raise refused(refusal)

    @workflow.update
    async def record_attendance(self, req: AttendanceRequest) -> int:
        refusal = self.attendance_refusal(req)
        if refusal:
            raise refused(refusal)
        present = sorted(set(self.s.attendance.get(req.session_no, [])) | set(req.present))
        added = [p for p in present if p not in self.s.attendance.get(req.session_no, [])]
        self.s.attendance[req.session_no] = present
        self.woken = True
        await self.activity(
            LifecycleActivities.record_attendance,
            AttendanceRecord(
                activity_id=self.plan.activity_id,
                session_no=req.session_no,
                participant_ids=added,
                staff_id=req.staff_id,
                at=workflow.now(),
            ),
        )
        survey = session_survey(req.session_no)
        if added and step_key(survey, Action.SEND) in self.s.done and step_key(survey, Action.CLOSE) not in self.s.done:
            await self.send_survey(survey, added)  # late attendance: they get the open survey too
        return len(present)

    @record_attendance.validator
    def validate_attendance(self, req: AttendanceRequest) -> None:
        refusal = self.attendance_refusal(req)
        if refusal:
            raise refused(refusal)

    def attendance_refusal(self, req: AttendanceRequest) -> Refusal | None:
        return attendance_refusal(self.phase, self.plan, req, workflow.now(), self.confirmed_participants())

    @workflow.update
    async def decide_override(self, req: OverrideRequest) -> str:
        if self.override is not None:
            raise refused(BUSY)
        self.override, self.override_outcome = req, None
        await workflow.wait_condition(lambda: self.override_outcome is not None)
        outcome = self.override_outcome
        if isinstance(outcome, Refusal):
            raise refused(outcome)
        return outcome or ""

    @decide_override.validator
    def validate_override(self, req: OverrideRequest) -> None:
        refusal = override_refusal(self.phase, self.plan, req, workflow.now())
        if refusal is None and self.override is not None:
            refusal = BUSY
        if refusal:
            raise refused(refusal)

    @workflow.update
    async def send_message(self, req: MessageRequest) -> int:
        """Send a coordinator's stored message to its segment, resolved now; the number of recipients.

        The text stays in the store: the workflow sees the message's id, the recipients' ids and a count."""
        why = sending_refusal(self.phase, self.anonymising)
        if why:
            raise refused(why)
        self.messages_in_flight += 1
        try:
            await self.recorded()  # the segment is resolved from the store: every answered change in it first
            ref = MessageRef(**self.ref().model_dump(), message_id=req.message_id, staff_id=req.staff_id)
            recipients = await self.activity(LifecycleActivities.message_recipients, ref)
            sent = None
            if recipients is not None:
                sent = await self.activity(
                    LifecycleActivities.send_coordinator_message,
                    MessageSend(**ref.model_dump(), participant_ids=recipients, at=workflow.now()),
                )
        finally:
            self.messages_in_flight -= 1
        if sent is None:  # it can never succeed (recorded as step_failed)
            raise refused(
                refusal(RefusalCode.MESSAGE_FAILED, "the message could not be sent", message_id=req.message_id)
            )
        return sent

    @send_message.validator
    def validate_send_message(self, req: MessageRequest) -> None:
        why = sending_refusal(self.phase, self.anonymising)
        if why:
            raise refused(why)

    @workflow.query
    def status(self) -> ActivityStatus:
        book = self.s.book
        return ActivityStatus(
            id=self.plan.activity_id,
            title=self.plan.title,
            phase=self.phase,
            plan_version=self.plan.version,
            capacity=self.plan.places,
            min_participants=self.plan.min_participants,
            confirmed=book.confirmed,
            waitlisted=book.waitlisted,
            withdrawn=book.withdrawn,
            registrations=len(book.seats),
            deadline=self.plan.deadline,
            grace_until=self.s.grace_until,
            next_due=self.next_due,
            sessions=[self.session_status(s.no) for s in self.plan.sessions],
            decisions=self.s.decisions,
            run_number=self.s.run_number,
            recording=len(self.unrecorded),
        )

    def session_status(self, no: int) -> SessionStatus:
        session = self.plan.session(no)
        assert session is not None
        survey = session_survey(no)
        state = next(
            (
                label
                for key, label in (
                    (step_key(survey, Action.CLOSE), "closed"),
                    (step_key(survey, Action.REMIND), "reminded"),
                    (step_key(survey, Action.SEND), "sent"),
                )
                if key in self.s.done
            ),
            "pending",
        )
        attended = self.s.attendance.get(no)
        return SessionStatus(
            no=no,
            start=session.start,
            end=session.end,
            location=session.location,
            attended=len(attended) if attended is not None else None,
            survey=state,
        )

    # ------------------------------------------------------------------
    # Plumbing: timers, continue-as-new, activities, search attributes
    # ------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self.s.phase

    @property
    def plan(self) -> LifecyclePlan:
        return self.s.plan

    def ref(self) -> PlanRef:
        return PlanRef(activity_id=self.plan.activity_id, plan_version=self.plan.version)

    def confirmed_participants(self) -> list[int]:
        return [s.participant_id for s in self.s.book.with_status(SeatStatus.CONFIRMED)]

    def set_phase(self, phase: Phase) -> None:
        workflow.logger.info("Phase %s -> %s", self.s.phase.value, phase.value)
        self.s.phase = phase
        self.sync_search_attributes()

    def sync_search_attributes(self) -> None:
        """Bring the search attributes in line with the state: at once (histories before the patch), or marked and
        upserted once at the end of the workflow task, with whatever else the task changed."""
        if self.search_attributes_per_task is None:
            self.search_attributes_per_task = workflow.patched(SEARCH_ATTRIBUTES_ONCE_PER_TASK)
            if self.search_attributes_per_task:
                self.tasks.append(asyncio.create_task(self.publish_search_attributes()))
        if self.search_attributes_per_task:
            self.search_attributes_dirty = True
        else:
            self.upsert_search_attributes()

    async def publish_search_attributes(self) -> None:
        """Upsert the search attributes once the workflow task's coroutines have run: conditions are checked only
        when nothing else is ready, so the registrations, withdrawals and phase changes of one task make one upsert."""
        while True:
            await workflow.wait_condition(lambda: self.search_attributes_dirty)
            self.flush_search_attributes()

    def flush_search_attributes(self) -> None:
        """Upsert now what is marked (before continue-as-new and the end of the run, which end the task's coroutines)."""
        if self.search_attributes_dirty:
            self.search_attributes_dirty = False
            self.upsert_search_attributes()

    def upsert_search_attributes(self) -> None:
        wanted: list[tuple[SearchAttributeKey[Any], Any]] = [
            (sa.PHASE, self.phase.value),
            (sa.CONFIRMED_COUNT, self.s.book.confirmed),
            (sa.BELOW_MINIMUM, self.s.book.confirmed < self.plan.min_participants),
            (sa.FIRST_SESSION_START, self.plan.first_start),
            (sa.FOCUS_AREA, self.plan.focus_area),
        ]
        current = workflow.info().typed_search_attributes
        changes = [key.value_set(value) for key, value in wanted if current.get(key) != value]
        if changes:
            workflow.upsert_search_attributes(changes)

    async def sleep_until(self, at: datetime, what: str) -> bool:
        """Wait until `at`; return False when woken earlier (a decision or attendance arrived)."""
        self.next_due = NextDue(at=at, what=what)
        self.woken = False
        remaining = (at - workflow.now()).total_seconds()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.woken or self.override is not None or self.should_continue_as_new(),
                    timeout=timedelta(seconds=remaining),
                    timeout_summary=what,
                )
        await self.continue_as_new_if_due()
        self.next_due = None
        return workflow.now() >= at and self.override is None

    def should_continue_as_new(self) -> bool:
        info = workflow.info()
        if self.threshold is not None and info.get_current_history_length() >= self.threshold:
            return True
        return info.is_continue_as_new_suggested()

    async def continue_as_new_if_due(self) -> None:
        if not self.should_continue_as_new() or self.override is not None:
            return
        # Everything this run holds is done first: handlers, the answered seat changes (in the store), the invitation
        # mailing. (A steady stream of registrations postpones it: the recorder takes all that wait at once, so the
        # queue empties as soon as arrivals pause for the length of one recording.)
        await workflow.wait_condition(
            lambda: (
                (workflow.all_handlers_finished() and not self.unrecorded and not self.inviting)
                or self.override is not None
            )
        )
        if self.override is not None:
            return  # apply the decision first; continue-as-new on the next wait
        self.s.run_number += 1
        workflow.logger.info("Continuing as new (run %d)", self.s.run_number)
        self.flush_search_attributes()
        workflow.continue_as_new(LifecycleInput(state=self.s, continue_as_new_after_events=self.threshold))

    async def activity(self, method: Callable[[LifecycleActivities, A], Awaitable[R]], arg: A) -> R | None:
        """Run an activity with its options from `ACTIVITY_TIMEOUTS`; retried with backoff until it succeeds (e.g.
        while the SMTP server is down). None when it can never succeed: recorded as `step_failed`, and the lifecycle
        goes on."""
        name = method.__name__
        timeouts = ACTIVITY_TIMEOUTS.get(name, ONE_ROW)
        if timeouts is BULK_MAIL and workflow.patched(MAILINGS_HEARTBEAT_OFTEN):
            timeouts = MAILING
        try:
            return await workflow.execute_activity_method(
                method,
                arg,
                retry_policy=ACTIVITY_RETRY,
                start_to_close_timeout=timeouts.start_to_close,
                heartbeat_timeout=timeouts.heartbeat,
                summary=f"{name} {self.plan.activity_id}",
            )
        except ActivityError as err:
            if err.retry_state not in GIVEN_UP:
                raise
            await self.step_failed(name, err)
            return None

    async def step_failed(self, name: str, err: ActivityError) -> None:
        """A step that can never succeed (non-retryable) is recorded as the engine's decision; the lifecycle goes on.

        The failure carries no personal data (activities say only the error's type), so it may go to the status,
        the audit log and the workflow's log.
        """
        cause = err.cause.message if isinstance(err.cause, ApplicationError) else type(err.cause).__name__
        workflow.logger.error("Step %s failed permanently, the lifecycle carries on: %s", name, cause)
        if (
            name != LifecycleActivities.record_decision.__name__
        ):  # recording the failure of the recorder would go round in circles
            await self.decide("step_failed", DecisionBy.ENGINE, f"{name} failed and is not retried: {cause}")
