"""The runflow worker: the lifecycle workflow, the round starter, and their activities on one task queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities_impl.compose import Composer
from activities_impl.lifecycle_activities import LifecycleActivities
from activities_impl.mailer import Mailer, SmtpMailer
from activities_impl.outbox import Outbox
from activities_impl.round_activities import RoundActivities
from activities_impl.store import Store
from worker.sandbox import share_workflow_code
from worker.settings import Settings
from workflows.activity_lifecycle import ActivityLifecycleWorkflow
from workflows.round_starter import RoundStarterWorkflow


def build_activities(store: Store, mailer: Mailer, settings: Settings) -> LifecycleActivities:
    return LifecycleActivities(
        store,
        Outbox(
            store,
            mailer,
            settings.smtp_from,
            settings.outbox_lease_seconds,
            settings.outbox_recipient_attempts,
            settings.outbox_batch_size,
        ),
        Composer(settings.web_base_url, settings.secret_key),
    )


def smtp_mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        timeout=settings.smtp_timeout,
    )


def build_worker(client: Client, activities: LifecycleActivities, task_queue: str, **options: Any) -> Worker:
    """On shutdown, running activities get a few seconds to finish (an e-mail batch stops between messages).

    Also the starter of recurring rounds (`RoundStarterWorkflow`, started by the templates' schedules) and its
    activity, over the same store. The sandbox imports the workflows' module for every run it keeps: their compiled
    code is shared between those imports (`worker.sandbox`)."""
    share_workflow_code()
    options.setdefault("graceful_shutdown_timeout", timedelta(seconds=10))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ActivityLifecycleWorkflow, RoundStarterWorkflow],
        activities=[*activities.all(), *RoundActivities(activities.store).all()],
        **options,
    )
