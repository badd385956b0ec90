"""The lifecycle workflow's activities: every side effect, each idempotent under retries.

E-mails go through the outbox keyed by (activity, purpose, recipient, session/survey),
so a retried activity never sends a message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from jinja2 import TemplateError
from pydantic import ValidationError
from temporalio import activity

from activities_impl import calendar as ics
from activities_impl import report as reports
from activities_impl.compose import FORMAT_NAMES, Composer, survey_text, when
from activities_impl.mail_failures import ADDRESS_FAULTS, reason_in_swedish
from activities_impl.outbox import Attachment, Envelope, MailDeliveryError, Outbox
from activities_impl.permanent import permanent_failures
from activities_impl.store import ClaimHeld, Store, StoreError
from domain.commands import (
    Announcement,
    AnnouncementKind,
    AttendanceRecord,
    DeadlineReminder,
    DecisionRecord,
    FailedSeatChange,
    LowEnrolmentNotice,
    MessageRef,
    MessageSend,
    PlanRef,
    RegistrationChange,
    RegistrationRecord,
    SeatChanges,
    SeatChangesRecorded,
    SessionReminder,
    SurveyCount,
    SurveySend,
    SurveyStep,
    WithdrawalChange,
    WithdrawalRecord,
)
from domain.lifecycle import SeatStatus, audit_by
from domain.messages import message_purpose
from domain.plan import ActivityPlan
from domain.segments import SegmentError, parse_segment
from domain.tables import CoordinatorMessage, Participant, Registration, SurveyInvitation

ICS = "text/calendar; method="
UNDELIVERABLE = "undeliverable"
MAILING_NAMES = {  # what the organiser's notice calls the mailing
    "invitation": "inbjudan",
    "deadline-reminder": "påminnelse om anmälan",
    "registration": "anmälningsbekräftelse",
    "withdrawal": "bekräftelse på avanmälan",
    "promoted": "besked om plats från reservlistan",
    "low-enrolment": "besked om för få anmälda",
    "confirmed": "besked om att aktiviteten blir av",
    "cancelled": "besked om inställd aktivitet",
    "postponed": "besked om nya datum",
    "session-reminder": "påminnelse inför träff",
    "survey": "enkät",
    "survey-reminder": "påminnelse om enkät",
    "report": "slutrapport",
    "message": "meddelande från samordnaren",
}


def mailing_name(purpose: str) -> str:
    """What the organiser's notice calls a mailing ("message-12" is a coordinator's message)."""
    return MAILING_NAMES.get(purpose) or MAILING_NAMES.get(purpose.partition("-")[0]) or purpose


HEARTBEAT_EVERY = 3.0  # seconds; the workflow's heartbeat timeout for seat changes and mailings is 15 s


@contextlib.asynccontextmanager
async def heartbeating(every: float | None = None) -> AsyncIterator[None]:
    """Heartbeat while the body runs (also through a slow store call or SMTP exchange): a worker that dies under the
    activity is noticed within the heartbeat timeout, and the activity is retried elsewhere."""
    if not activity.in_activity():
        yield
        return

    interval = HEARTBEAT_EVERY if every is None else every

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


LIFECYCLE_ACTIVITY = "__runflow_lifecycle_activity__"
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def lifecycle_activity(*, give_up_on_bad_input: bool = True) -> Callable[[F], F]:
    """Make a method an activity named after it, registered with the worker by `LifecycleActivities.all()`.

    With `give_up_on_bad_input`, input that can never succeed fails as non-retryable (`permanent_failures`)."""

    def decorate(fn: F) -> F:
        body = permanent_failures(fn) if give_up_on_bad_input else fn
        defined = activity.defn(name=fn.__name__)(body)
        setattr(defined, LIFECYCLE_ACTIVITY, True)
        return defined

    return decorate


class LifecycleActivities:
    def __init__(self, store: Store, outbox: Outbox, composer: Composer):
        self.store, self.outbox, self.composer = store, outbox, composer

    # -- helpers ---------------------------------------------------------
    async def _plan(self, ref: PlanRef) -> ActivityPlan:
        return await asyncio.to_thread(self.store.plan, ref.activity_id, ref.plan_version)

    def _context(self, plan: ActivityPlan) -> dict[str, Any]:
        return {
            "plan": plan,
            "format_name": FORMAT_NAMES.get(plan.format.value, "en aktivitet"),
            "deadline": when(plan.registration.deadline),
            "activity_url": self.composer.activity_url(plan.id),
            "sessions": [
                {"no": no, "when": when(s.start, s.end), "where": ics.location_text(s)}
                for no, s in enumerate(plan.sessions, start=1)
            ],
        }

    def _calendar(
        self,
        plan: ActivityPlan,
        version: int,
        method: str = "PUBLISH",
        session_nos: list[int] | None = None,
        sequence: int | None = None,
    ) -> Attachment:
        data = ics.build_calendar(plan, version, method=method, session_nos=session_nos, sequence=sequence)
        return Attachment(f"{plan.id}.ics", ICS + method, data)

    async def _calendars_sent(self, plan: ActivityPlan, people: list[Participant]) -> dict[str, int]:
        return await asyncio.to_thread(self.store.calendars_sent, plan.id, [p.email for p in people if p.email])

    def _person_calendar(
        self, plan: ActivityPlan, version: int, person: Participant, sent: dict[str, int], method: str = "PUBLISH"
    ) -> Attachment:
        """The person's own calendar file: newer (SEQUENCE) than every file they already got."""
        count = sent.get(person.email or "", 0)
        return self._calendar(plan, version, method, sequence=ics.person_sequence(version, method, count))

    def _mail(
        self,
        plan: ActivityPlan,
        key: str,
        purpose: str,
        recipient: str | None,
        template: str,
        attachments: list[Attachment] | None = None,
        **context: Any,
    ) -> Envelope:
        """An e-mail for the outbox; a recipient of None (an erased address) is stored and marked undeliverable."""
        subject, body = self.composer.render(template, **self._context(plan), **context)
        return Envelope(
            key=key,
            activity_id=plan.id,
            purpose=purpose,
            recipient=recipient,
            subject=subject,
            body=body,
            attachments=attachments or [],
        )

    async def _send(self, plan: ActivityPlan, envelopes: list[Envelope]) -> int:
        """Send a mailing; when some of it can never be delivered, tell the organiser in one e-mail.

        Addresses refused before in this activity are not tried again, and the organiser, told already, is not
        told again."""
        async with heartbeating():  # through slow SMTP exchanges too: a dead worker is noticed within 15 s
            return await self._send_mailing(plan, envelopes)

    async def _send_mailing(self, plan: ActivityPlan, envelopes: list[Envelope]) -> int:
        known = await asyncio.to_thread(self.store.undeliverable_addresses, plan.id, ADDRESS_FAULTS)
        delivered = await self.outbox.send(envelopes, known)
        if envelopes and envelopes[0].purpose != UNDELIVERABLE:
            failed = [
                f for f in await asyncio.to_thread(self.outbox.undeliverable, envelopes) if f.recipient not in known
            ]
            if failed:
                mailing = mailing_name(envelopes[0].purpose)
                digest = hashlib.sha256("|".join(sorted(f.key for f in failed)).encode()).hexdigest()[:16]
                await self.outbox.send(
                    [
                        self._mail(
                            plan,
                            f"{plan.id}|{UNDELIVERABLE}|{envelopes[0].purpose}|{digest}",
                            UNDELIVERABLE,
                            plan.organiser_email,
                            "undeliverable",
                            mailing=mailing,
                            failed=[{"recipient": f.recipient, "reason": reason_in_swedish(f.error)} for f in failed],
                        )
                    ]
                )
        return delivered

    async def _registrations(self, activity_id: str, ids: list[str]) -> list[tuple[Registration, Participant]]:
        if not ids:
            return []
        return await asyncio.to_thread(self.store.registrations, activity_id, None, ids)

    # -- open ------------------------------------------------------------
    @lifecycle_activity()
    async def make_plan_current(self, ref: PlanRef) -> None:
        await asyncio.to_thread(self.store.make_current, ref.activity_id, ref.plan_version)

    @lifecycle_activity()
    async def send_invitation(self, ref: PlanRef) -> int:
        plan = await self._plan(ref)
        return await self._to_contacts(plan, "invitation", "invitation", f"v{ref.plan_version}")

    @lifecycle_activity()
    async def send_deadline_reminder(self, reminder: DeadlineReminder) -> int:
        plan = await self._plan(reminder)
        return await self._to_contacts(plan, "deadline-reminder", "deadline_reminder", reminder.due.isoformat())

    async def _to_contacts(self, plan: ActivityPlan, purpose: str, template: str, occasion: str) -> int:
        organisations = plan.invited_organisations(await asyncio.to_thread(self.store.organisation_ids))
        contacts = await asyncio.to_thread(self.store.contacts, organisations, plan.target_groups)
        envelopes = [
            self._mail(plan, f"{plan.id}|{purpose}|c{c.id}|{occasion}", purpose, c.email, template) for c in contacts
        ]
        await self._send(plan, envelopes)
        return len(envelopes)

    @lifecycle_activity()
    async def record_registration(self, record: RegistrationRecord) -> None:
        await asyncio.to_thread(
            self.store.record_registration,
            registration_id=record.registration_id,
            activity_id=record.activity_id,
            participant_id=record.participant_id,
            status=record.status.value,
            team_size=record.team_size,
            seq=record.seq,
        )
        plan = await self._plan(record)
        found = {r.id: (r, p) for r, p in await self._registrations(record.activity_id, [record.registration_id])}
        if not found:
            raise StoreError(f"registration {record.registration_id} was not stored", "unknown_registration")
        change = RegistrationChange(
            registration_id=record.registration_id,
            participant_id=record.participant_id,
            status=record.status,
            team_size=record.team_size,
            seq=record.seq,
            waitlist_position=record.waitlist_position,
        )
        sent = await self._calendars_sent(plan, [p for _, p in found.values()])
        await self._send(plan, [self._registration_mail(plan, record.plan_version, change, found, sent)])

    @lifecycle_activity()
    async def record_seat_changes(self, batch: SeatChanges) -> SeatChangesRecorded:
        """Registrations and withdrawals the workflow has answered: recorded in the store, then confirmed by e-mail,
        in the order taken (one transaction for the rows; the e-mails in runs of one purpose, each run one send).

        Retried as a whole: rows are written once (by registration id), each e-mail goes out once (outbox key). A
        change that can never be recorded (its person is not in the store, its e-mail does not render) is returned
        by id and not retried; the others are recorded all the same."""
        async with heartbeating():
            plan = await self._plan(batch)
            failed = dict.fromkeys(
                await asyncio.to_thread(self.store.record_seat_changes, batch.activity_id, batch.changes),
                "unknown_participant",
            )
            ids = [c.registration_id for c in batch.changes]
            ids += [p for c in batch.changes if isinstance(c, WithdrawalChange) for p in c.promoted]
            found = {r.id: (r, p) for r, p in await self._registrations(plan.id, list(dict.fromkeys(ids)))}
            sent = await self._calendars_sent(plan, [p for _, p in found.values()])
            runs: list[list[Envelope]] = []  # consecutive e-mails of one purpose
            for change in batch.changes:
                if change.registration_id in failed:
                    continue
                try:
                    if isinstance(change, RegistrationChange):
                        if change.registration_id not in found:
                            failed[change.registration_id] = "unknown_registration"
                            continue
                        envelopes = [self._registration_mail(plan, batch.plan_version, change, found, sent)]
                    else:
                        envelopes = self._withdrawal_mails(plan, batch.plan_version, change, found, sent)
                except (TemplateError, ValidationError) as exc:
                    failed[change.registration_id] = type(exc).__name__
                    continue
                for envelope in envelopes:
                    if runs and runs[-1][0].purpose == envelope.purpose:
                        runs[-1].append(envelope)
                    else:
                        runs.append([envelope])
            later: list[Exception] = []
            for run in runs:
                try:
                    await self._send(plan, run)
                except (MailDeliveryError, ClaimHeld) as exc:  # e.g. a mailbox putting us off: the rest goes now
                    later.append(exc)
            if later:  # the retry sends only what did not go (the outbox knows what did)
                raise later[0]
        return SeatChangesRecorded(
            failed=[FailedSeatChange(registration_id=rid, cause=cause) for rid, cause in failed.items()]
        )

    def _counted(
        self, plan: ActivityPlan, version: int, person: Participant, sent: dict[str, int], method: str = "PUBLISH"
    ) -> Attachment:
        """The person's calendar file, counted in `sent` (a later file in the same batch is newer still)."""
        attachment = self._person_calendar(plan, version, person, sent, method)
        if person.email:
            sent[person.email] = sent.get(person.email, 0) + 1
        return attachment

    def _registration_mail(
        self,
        plan: ActivityPlan,
        version: int,
        change: RegistrationChange,
        found: dict[str, tuple[Registration, Participant]],
        sent: dict[str, int],
    ) -> Envelope:
        _, participant = found[change.registration_id]
        confirmed = change.status is SeatStatus.CONFIRMED
        return self._mail(
            plan,
            f"{plan.id}|registration|{change.registration_id}",
            "registration",
            participant.email,
            "registration_confirmed" if confirmed else "registration_waitlisted",
            attachments=[self._counted(plan, version, participant, sent)] if confirmed else [],
            participant=participant,
            team_size=change.team_size,
            position=change.waitlist_position,
            withdraw_url=self.composer.withdraw_url(change.registration_id),
        )

    def _withdrawal_mails(
        self,
        plan: ActivityPlan,
        version: int,
        change: WithdrawalChange,
        found: dict[str, tuple[Registration, Participant]],
        sent: dict[str, int],
    ) -> list[Envelope]:
        envelopes = []
        if change.registration_id in found:
            registration, participant = found[change.registration_id]
            # The calendar file removes the sessions from the person's calendar (same UIDs, higher SEQUENCE).
            envelopes.append(
                self._mail(
                    plan,
                    f"{plan.id}|withdrawal|{registration.id}",
                    "withdrawal",
                    participant.email,
                    "withdrawal_confirmed",
                    participant=participant,
                    attachments=[self._counted(plan, version, participant, sent, "CANCEL")],
                )
            )
        for rid in change.promoted:
            if rid not in found:
                continue
            registration, participant = found[rid]
            envelopes.append(
                self._mail(
                    plan,
                    f"{plan.id}|promoted|{registration.id}",
                    "promoted",
                    participant.email,
                    "promoted",
                    attachments=[self._counted(plan, version, participant, sent)],
                    participant=participant,
                    withdraw_url=self.composer.withdraw_url(registration.id),
                )
            )
        return envelopes

    @lifecycle_activity()
    async def record_withdrawal(self, record: WithdrawalRecord) -> None:
        await asyncio.to_thread(self.store.record_withdrawal, record.registration_id, record.promoted)
        plan = await self._plan(record)
        ids = [record.registration_id, *record.promoted]
        found = {r.id: (r, p) for r, p in await self._registrations(record.activity_id, ids)}
        sent = await self._calendars_sent(plan, [p for _, p in found.values()])
        change = WithdrawalChange(registration_id=record.registration_id, promoted=record.promoted)
        await self._send(plan, self._withdrawal_mails(plan, record.plan_version, change, found, sent))

    # -- deciding --------------------------------------------------------
    @lifecycle_activity()
    async def record_decision(self, record: DecisionRecord) -> None:
        d = record.decision
        await asyncio.to_thread(
            self.store.audit,
            key=f"{record.activity_id}|{record.key}",
            activity_id=record.activity_id,
            at=d.at,
            kind=d.kind,
            by=audit_by(d.staff_id, d.by.value),
            reason=d.reason,
            details={"confirmed": d.confirmed, "min_participants": d.min_participants},
        )

    @lifecycle_activity()
    async def notify_low_enrolment(self, notice: LowEnrolmentNotice) -> None:
        plan = await self._plan(notice)
        await self._send(
            plan,
            [
                self._mail(
                    plan,
                    f"{plan.id}|low-enrolment|organiser|v{notice.plan_version}|{notice.grace_until.isoformat()}",
                    "low-enrolment",
                    plan.organiser_email,
                    "low_enrolment",
                    confirmed=notice.confirmed,
                    grace_until=when(notice.grace_until),
                )
            ],
        )

    @lifecycle_activity()
    async def announce(self, announcement: Announcement) -> int:
        """Tell registrants that the activity runs, is cancelled, or has new dates."""
        plan = await self._plan(announcement)
        kind = announcement.kind
        if kind is AnnouncementKind.CANCELLED:
            await asyncio.to_thread(
                self.store.set_registration_status,
                announcement.confirmed_ids + announcement.waitlisted_ids,
                SeatStatus.CANCELLED,
            )
        else:
            await asyncio.to_thread(
                self.store.set_registration_status, announcement.confirmed_ids, SeatStatus.CONFIRMED
            )
        method = "CANCEL" if kind is AnnouncementKind.CANCELLED else "PUBLISH"
        waitlisted = set(announcement.waitlisted_ids)
        ids = announcement.confirmed_ids + ([] if kind is AnnouncementKind.CONFIRMED else announcement.waitlisted_ids)
        envelopes = []
        told = await self._registrations(plan.id, ids)
        sent = await self._calendars_sent(plan, [p for _, p in told])
        for registration, participant in told:
            on_list = registration.id in waitlisted
            attach = (
                [] if on_list else [self._person_calendar(plan, announcement.plan_version, participant, sent, method)]
            )
            envelopes.append(
                self._mail(
                    plan,
                    f"{plan.id}|{kind.value}|{registration.id}|v{announcement.plan_version}",
                    kind.value,
                    participant.email,
                    f"activity_{kind.value}",
                    attachments=attach,
                    participant=participant,
                    waitlisted=on_list,
                    low_enrolment=announcement.low_enrolment,
                    withdraw_url=self.composer.withdraw_url(registration.id),
                )
            )
        await self._send(plan, envelopes)
        return len(envelopes)

    # -- running ---------------------------------------------------------
    @lifecycle_activity()
    async def send_session_reminder(self, reminder: SessionReminder) -> int:
        plan = await self._plan(reminder)
        session = plan.sessions[reminder.session_no - 1]
        info = {
            "no": reminder.session_no,
            "when": when(session.start, session.end),
            "where": ics.location_text(session),
        }
        people = await asyncio.to_thread(self.store.participants, reminder.participant_ids)
        calendar = self._calendar(plan, reminder.plan_version, session_nos=[reminder.session_no])
        envelopes = [
            self._mail(
                plan,
                f"{plan.id}|session-reminder|p{p.id}|s{reminder.session_no}",
                "session-reminder",
                p.email,
                "session_reminder",
                attachments=[calendar],
                participant=p,
                session=info,
            )
            for p in people
            if p.email
        ]
        await self._send(plan, envelopes)
        return len(envelopes)

    @lifecycle_activity()
    async def record_attendance(self, record: AttendanceRecord) -> int:
        added = await asyncio.to_thread(
            self.store.record_attendance, record.activity_id, record.session_no, record.participant_ids
        )
        if record.participant_ids and record.at is not None:
            # Keyed by what was marked: the same people are never newly present at the same session twice.
            ids = sorted(record.participant_ids)
            digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
            await asyncio.to_thread(
                self.store.audit,
                key=f"{record.activity_id}|attendance|s{record.session_no}|{digest}",
                activity_id=record.activity_id,
                at=record.at,
                kind="attendance",
                by=audit_by(record.staff_id, "coordinator"),
                reason=f"{len(ids)} marked present at session {record.session_no}",
                details={"session_no": record.session_no, "participant_ids": ids},
            )
        return added

    @lifecycle_activity()
    async def send_survey(self, send: SurveySend) -> int:
        plan = await self._plan(send)
        invitations = await asyncio.to_thread(
            self.store.create_survey_invitations,
            plan.id,
            send.survey,
            send.participant_ids,
            send.sent_at,
            send.closes_at,
        )
        return await self._survey_mails(plan, send.survey, invitations, "survey", "survey_invitation")

    @lifecycle_activity()
    async def remind_survey(self, step: SurveyStep) -> int:
        """One reminder, only to those who have not answered."""
        plan = await self._plan(step)
        waiting = await asyncio.to_thread(self.store.survey_invitations, plan.id, step.survey, unanswered=True)
        sent = await self._survey_mails(plan, step.survey, waiting, "survey-reminder", "survey_reminder")
        await asyncio.to_thread(self.store.mark_reminded, [i.id for i in waiting if i.id is not None], step.at)
        return sent

    async def _survey_mails(
        self, plan: ActivityPlan, survey: str, invitations: list[SurveyInvitation], purpose: str, template: str
    ) -> int:
        people = {
            p.id: p
            for p in await asyncio.to_thread(
                self.store.participants, [i.participant_id for i in invitations if i.participant_id]
            )
        }
        title, intro = survey_text(survey)
        envelopes = [
            self._mail(
                plan,
                f"{plan.id}|{purpose}|p{i.participant_id}|{survey}",
                purpose,
                people[i.participant_id].email,
                template,
                participant=people[i.participant_id],
                survey_title=title,
                survey_intro=intro,
                survey_url=self.composer.survey_url(i.token),
                closes=when(i.closes_at),
            )
            for i in invitations
            if i.participant_id in people and people[i.participant_id].email
        ]
        await self._send(plan, envelopes)
        return len(envelopes)

    @lifecycle_activity()
    async def close_survey(self, step: SurveyStep) -> SurveyCount:
        await asyncio.to_thread(self.store.close_survey, step.activity_id, step.survey)
        invitations = await asyncio.to_thread(self.store.survey_invitations, step.activity_id, step.survey)
        return SurveyCount(invited=len(invitations), answered=sum(1 for i in invitations if i.answered_at))

    # -- a coordinator's message to a segment -----------------------------
    async def _message(self, ref: MessageRef) -> CoordinatorMessage:
        message = await asyncio.to_thread(self.store.message, ref.message_id)
        if message is None or message.activity_id != ref.activity_id:
            raise StoreError(f"no message {ref.message_id} for activity {ref.activity_id!r}", "unknown_message")
        return message

    @lifecycle_activity()
    async def message_recipients(self, ref: MessageRef) -> list[int]:
        """Who the message's segment holds right now (participant ids): the workflow sends to exactly these."""
        message = await self._message(ref)
        try:
            segment = parse_segment(message.segment, await self._plan(ref))
        except SegmentError:
            raise StoreError(f"message {ref.message_id} has an unknown segment", "unknown_segment") from None
        people = await asyncio.to_thread(self.store.segment_recipients, ref.activity_id, segment)
        return [p.id for p in people if p.id is not None]

    @lifecycle_activity()
    async def send_coordinator_message(self, send: MessageSend) -> int:
        """The message to each recipient, once (outbox key: activity, message, participant); audited."""
        message = await self._message(send)
        plan = await self._plan(send)
        purpose = message_purpose(send.message_id)
        people = await asyncio.to_thread(self.store.participants, send.participant_ids)
        envelopes = [
            self._mail(
                plan,
                f"{plan.id}|{purpose}|p{p.id}",
                purpose,
                p.email,
                "coordinator_message",
                participant=p,
                message_subject=message.subject,
                message_body=message.body,
            )
            for p in people
            if p.email and p.activity_id == plan.id
        ]
        await asyncio.to_thread(
            self.store.audit,
            key=f"{plan.id}|{purpose}",
            activity_id=plan.id,
            at=send.at,
            kind="message",
            by=audit_by(send.staff_id, "coordinator"),
            reason=f"message {send.message_id} to segment {message.segment}: {len(envelopes)} recipient(s)",
            details={"message_id": send.message_id, "segment": message.segment, "recipients": len(envelopes)},
        )
        await self._send(plan, envelopes)
        return len(envelopes)

    # -- completed and anonymised ---------------------------------------
    @lifecycle_activity()
    async def send_report(self, ref: PlanRef) -> None:
        report = await asyncio.to_thread(self.store.report, ref.activity_id)
        if report is None:
            report = await asyncio.to_thread(
                self.store.save_report, await asyncio.to_thread(reports.build_report, self.store, ref.activity_id)
            )
        plan = await self._plan(ref)
        summary = json.loads(report.summary_json)
        attachments = [
            Attachment(f"{plan.id}-rapport.md", "text/markdown", report.markdown.encode()),
            Attachment(f"{plan.id}-deltagare.csv", "text/csv", report.csv.encode()),
            Attachment(f"{plan.id}-deltagare.png", "image/png", report.chart_png),
        ]
        anonymise_at = report.created_at + plan.retention
        await self._send(
            plan,
            [
                self._mail(
                    plan,
                    f"{plan.id}|report|organiser",
                    "report",
                    plan.organiser_email,
                    "report",
                    attachments=attachments,
                    summary=_summary_counts(summary),
                    anonymise_at=when(anonymise_at),
                )
            ],
        )

    @lifecycle_activity(give_up_on_bad_input=False)  # never given up: retried until the data is gone
    async def anonymise(self, ref: PlanRef) -> int:
        """Retried until it succeeds, never given up: the phase says `anonymised` only once the data is gone."""
        try:
            keep_free_text = (await self._plan(ref)).surveys.keep_free_text
        except (StoreError, ValidationError):  # a plan that no longer loads: erase the free texts too
            keep_free_text = False
        return await asyncio.to_thread(self.store.anonymise_activity, ref.activity_id, keep_free_text)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class (the methods marked `@lifecycle_activity`), bound: what the worker registers."""
        return [
            getattr(self, name)
            for name, member in inspect.getmembers(type(self))
            if getattr(member, LIFECYCLE_ACTIVITY, False)
        ]


def _summary_counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "confirmed": summary.get("confirmed", 0),
        "answers": summary.get("answers", 0),
        "invited": summary.get("invited", 0),
    }
