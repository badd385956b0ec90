"""A mailing heartbeats while it runs, also through a slow SMTP exchange: the workflow gives a mailing whose worker
died up after 15 s without a heartbeat (tests/workflows/test_activity_lifecycle.py), not a minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from temporalio.testing import ActivityEnvironment

from activities_impl import lifecycle_activities
from activities_impl.mailer import MemoryMailer
from domain.commands import PlanRef
from worker.worker import build_activities


class SlowMailer(MemoryMailer):
    """A relay that takes its time over each message."""

    async def send(self, message: EmailMessage) -> None:
        await asyncio.sleep(0.3)
        await super().send(message)


async def test_a_mailing_heartbeats_between_and_during_its_messages(sqlite_store, make_plan, settings, monkeypatch):
    monkeypatch.setattr(lifecycle_activities, "HEARTBEAT_EVERY", 0.05)
    plan = make_plan(datetime.now(UTC) + timedelta(days=30))
    version = sqlite_store.save_plan(plan, make_current=True)
    mailer = SlowMailer()
    activities = build_activities(sqlite_store, mailer, settings)
    beats: list[tuple] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    sent = await env.run(activities.send_invitation, PlanRef(activity_id=plan.id, plan_version=version))
    assert sent == len(mailer.sent) >= 2
    # One after each message (its key) as before, and every 0.05 s besides while a message takes 0.3 s.
    assert len(beats) >= 4 * sent
