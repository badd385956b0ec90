"""The floor's worker process: `python -m bench.floor_worker` (settings from the environment, as `runflow worker`).

Same connection and data converter as runflow's worker (`worker.client.connect`), same worker defaults as
`worker.worker.build_worker`, the floor's workflows and no-op activity instead of runflow's.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from temporalio.worker import Worker

from bench.floor import MirrorWorkflow, NoopUpdateWorkflow, noop
from worker.client import connect
from worker.settings import Settings


async def serve() -> None:
    settings = Settings()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[MirrorWorkflow, NoopUpdateWorkflow],
        activities=[noop],
        graceful_shutdown_timeout=timedelta(seconds=10),
    ):
        print(f"floor worker on {settings.task_queue}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
