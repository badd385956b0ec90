"""Building the long-lived parts from settings: the store and a worker that runs until stopped.

`open_store` is all the CLI's store commands need from here; what runs a worker (the Temporal worker, the workflow,
the activities with their templates and SMTP client, structlog) is imported by `run_worker_forever` when it runs.
"""

from __future__ import annotations

from activities_impl.store import Store
from worker.settings import Settings, get_settings, require_secret_key


def open_store(settings: Settings, migrate: bool = False) -> Store:
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.effective_database_url)
    if migrate:
        from domain.reference import default_reference

        store.migrate()
        store.seed_reference(default_reference())
    return store


async def run_worker_forever(settings: Settings | None = None) -> None:
    import asyncio
    import signal

    import structlog

    from worker.client import connect
    from worker.logs import configure_logging
    from worker.worker import build_activities, build_worker, smtp_mailer

    log = structlog.get_logger("runflow.worker")
    settings = settings or get_settings()
    require_secret_key(settings)  # the worker signs the withdrawal links in the e-mails
    configure_logging(settings.log_format, settings.log_level)
    store = open_store(settings, migrate=True)
    client = await connect(settings)
    activities = build_activities(store, smtp_mailer(settings), settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_worker(client, activities, settings.task_queue):
        log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address)
        await stop.wait()
    log.info("worker stopped")
