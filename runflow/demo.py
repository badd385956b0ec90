"""The demo activity of `make run`: a whole lifecycle in about three minutes, with simulated participants.

Registrations come from several municipalities (two more than the places, so
the waiting list and a promotion show), one person withdraws, attendance is
recorded, and most participants answer their surveys. One person mistypes the
school's domain: the embedded SMTP sink refuses that mailbox (550), so the
organiser's "Mejl kom inte fram" e-mail and `runflow activity show` show it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import structlog

from activities_impl.store import Store, StoreError
from api.backoffice.signin import new_signin_link
from api.service import Refused, Service
from domain.plan import ActivityPlan
from domain.staff import Role

log = structlog.get_logger("runflow.demo")

DEMO_COORDINATOR = "samordnare@run.example.se"  # the demo plan's organiser; `runflow up` prints their sign-in link


PEOPLE = [
    ("Anna Berglund", "sundsvall", "lärare"),
    ("Erik Lind", "ostersund", "specialpedagog"),
    ("Maria Nilsson", "harnosand", "lärare"),
    ("Johan Ek", "kramfors", "förstelärare"),
    ("Sara Holm", "are", "lärare"),
    ("Karin Sjöberg", "hudiksvall", "specialpedagog"),
    ("Lars Strand", "timra", "lärare"),
    ("Eva Dahl", "ornskoldsvik", "lärare"),
    ("Peter Forsberg", "krokom", "förstelärare"),
    ("Lena Åberg", "solleftea", "lärare"),
    ("Oskar Wik", "bracke", "lärare"),
    ("Ida Lund", "ljusdal", "specialpedagog"),
]


def demo_plan(now: datetime) -> ActivityPlan:
    def t(seconds: float) -> datetime:
        return now + timedelta(seconds=seconds)

    return ActivityPlan.model_validate(
        {
            "id": f"demo-{now:%Y%m%d-%H%M%S}",
            "title": "Demo: Läs- och skrivutveckling i alla ämnen",
            "description": "En demonstration av hela livscykeln på några minuter.",
            "focus_area": "utveckla",
            "target_groups": ["lärare", "specialpedagog", "förstelärare"],
            "format": "seminar_series",
            "organiser_email": DEMO_COORDINATOR,
            "places": 10,
            "min_participants": 6,
            "registration": {"opens": t(5), "deadline": t(35), "reminders_before_deadline": ["20s", "8s"]},
            "grace_period": "10s",
            "sessions": [
                {"start": t(50), "end": t(65), "location": "sundsvall", "room": "Campus Sundsvall, sal O111"},
                {"start": t(80), "end": t(95), "location": "digital", "link": "https://miun.example.se/demo"},
            ],
            "session_reminder_before": "10s",
            "surveys": {
                "window": "25s",
                "reminder_after": "12s",
                "attendance_grace": "5s",
                "final_evaluation_after": "5s",
                "follow_up_after": "35s",
            },
            "retention": "30s",
            "invitation": {"organisations": ["all"]},
        }
    )


def demo_signin_link(store: Store, base_url: str) -> str:
    """A one-time sign-in link (15 minutes) for the demo coordinator, who is made (or made active again) first."""
    member, _ = store.add_staff(DEMO_COORDINATOR, Role.COORDINATOR, name="Demosamordnare")
    return new_signin_link(store, base_url, member, datetime.now(UTC))


MISTYPED = "Oskar Wik"  # registers with a domain that does not exist, as people sometimes do
UNKNOWN_MAILBOXES = ["oskar.wik@skoal.example.se"]  # what the embedded SMTP sink refuses with 550


def email_of(name: str) -> str:
    ascii_name = name.lower().translate(str.maketrans("åäöé ", "aaoe."))
    return f"{ascii_name}@{'skoal' if name == MISTYPED else 'skola'}.example.se"


async def _sleep_until(at: datetime) -> None:
    delay = (at - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


async def run_demo(service: Service, store: Store) -> str:
    plan = demo_plan(datetime.now(UTC))
    await service.start(plan)
    log.info("demo activity started", activity_id=plan.id)
    await _sleep_until(plan.registration.opens + timedelta(seconds=1))
    for i, (name, org, role) in enumerate(PEOPLE):
        result = await service.register(plan.id, name=name, email=email_of(name), organisation=org, role=role)
        log.info(
            "demo registration", activity_id=plan.id, registration_id=result.registration_id, status=result.status.value
        )
        await asyncio.sleep(2.0 if i < 8 else 0.5)
    withdrawal = await service.withdraw(plan.id, email_of(PEOPLE[2][0]))
    log.info("demo withdrawal", activity_id=plan.id, promoted=withdrawal.promoted)
    answerer = asyncio.create_task(_answer_surveys(store, plan.id))
    try:
        for no, session in enumerate(plan.sessions, start=1):
            await _sleep_until(session.start + timedelta(seconds=2))
            present = [email_of(name) for i, (name, _, _) in enumerate(PEOPLE) if i not in (2, 10 + no % 2)]
            confirmed = {p.email for r, p in store.registrations(plan.id) if r.status == "confirmed"}
            count = await service.attendance(plan.id, no, [e for e in present if e in confirmed])
            log.info("demo attendance", activity_id=plan.id, session=no, present=count)
        while (await service.status(plan.id)).phase.value not in ("completed", "anonymised", "cancelled"):
            await asyncio.sleep(2)
    except Refused as exc:
        log.warning("demo step refused", activity_id=plan.id, reason=str(exc))
    finally:
        answerer.cancel()
    log.info("demo activity completed; anonymisation follows after the retention period", activity_id=plan.id)
    return plan.id


async def _answer_surveys(store: Store, activity_id: str) -> None:
    """Participants answering on the web: about two in three answer, the rest get a reminder."""
    answered: set[str] = set()
    while True:
        for survey in ("s1", "s2", "final", "follow-up"):
            for invitation in await asyncio.to_thread(store.survey_invitations, activity_id, survey, unanswered=True):
                pid = invitation.participant_id  # None once anonymised: no one to answer
                if invitation.token in answered or pid is None or pid % 3 == 0:
                    continue
                answers = {
                    "behov": 4 + pid % 2,
                    "balans": 4,
                    "ny_kunskap": 5,
                    "ta_med": "Arbetssätt för gemensam läsning",
                }
                with contextlib.suppress(StoreError):
                    await asyncio.to_thread(store.answer_survey, invitation.token, answers)
                answered.add(invitation.token)
        await asyncio.sleep(2)
