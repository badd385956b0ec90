"""Container health checks for the runflow image (copied to /opt/runflow/healthcheck.py by the Dockerfile).

    python /opt/runflow/healthcheck.py web [--url http://127.0.0.1:8000/healthz]
    python /opt/runflow/healthcheck.py worker [--max-age 150]

`web` asks the web app's /healthz. `worker` asks Temporal who polls the task
queue (RUNFLOW_TASK_QUEUE, settings from the environment as for the worker)
and is healthy only if *this* container's worker (poller identity
`<pid>@<hostname>`, the SDK's default) polled both the workflow and the
activity task queue within the last `--max-age` seconds: a worker that lost
its connection or hangs turns unhealthy even though its process still runs.

Exit code 0 healthy, 1 unhealthy (one line on stderr says why).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import urllib.request
from datetime import UTC, datetime


def check_web(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a fixed local URL
            if response.status != 200:
                return f"{url} answered {response.status}"
    except Exception as exc:  # noqa: BLE001 - any failure is unhealthy
        return f"{url}: {exc}"
    return None


async def stale_poller_types(settings, hostname: str, max_age: float) -> list[str]:
    """The task queue types (workflow, activity) this host's worker has not polled within `max_age` seconds."""
    from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    from worker.client import connect

    client = await connect(settings)
    now = datetime.now(UTC)
    missing = []
    for name, kind in (
        ("workflow", TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        ("activity", TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    ):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                task_queue_type=kind,
            )
        )
        ages = [
            (now - p.last_access_time.ToDatetime(tzinfo=UTC)).total_seconds()
            for p in response.pollers
            if p.identity.endswith(f"@{hostname}")
        ]
        if not any(age <= max_age for age in ages):
            missing.append(name)
    return missing


def check_worker(max_age: float, timeout: float) -> str | None:
    from worker.settings import Settings

    settings = Settings()
    try:
        missing = asyncio.run(asyncio.wait_for(stale_poller_types(settings, socket.gethostname(), max_age), timeout))
    except Exception as exc:  # noqa: BLE001 - unreachable Temporal, bad settings: unhealthy
        return f"cannot ask Temporal at {settings.temporal_address}: {exc!r}"
    if missing:
        return (
            f"no {' and no '.join(missing)} poller from this worker ({socket.gethostname()}) on task queue "
            f"{settings.task_queue!r} in the last {max_age:.0f}s"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Health check of a runflow container.")
    parser.add_argument("--timeout", type=float, default=10, help="seconds before the check counts as failed")
    sub = parser.add_subparsers(dest="what", required=True)
    web = sub.add_parser("web", help="the web app answers /healthz")
    web.add_argument("--url", default="http://127.0.0.1:8000/healthz")
    worker = sub.add_parser("worker", help="this container's worker polls its task queue")
    worker.add_argument(
        "--max-age", type=float, default=150, help="seconds since the last poll (a long poll lasts up to about 70 s)"
    )
    args = parser.parse_args(argv)
    problem = check_web(args.url, args.timeout) if args.what == "web" else check_worker(args.max_age, args.timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    # Leave without interpreter teardown: the Temporal client's native threads can abort a finishing
    # interpreter (temporalio/sdk-python#300), which would turn any answer into a crash (as in runflow/cli.py).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
