"""One benchmark run's stack: a Temporal dev server, a temp SQLite store, an SMTP sink, worker and web processes.

Everything listens on 127.0.0.1 only. Worker and web run as separate processes, as in production
(`runflow worker`, `runflow web`; the floor's `python -m bench.floor_worker`), so memory is measured on the worker
process and the driver (this process) is only the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities_impl.store import Store
from domain.reference import default_reference
from worker.binaries import temporal_cli
from worker.codec import codec_from_settings, new_key
from worker.converter import build_data_converter
from worker.settings import Settings
from worker.smtp_sink import start_sink
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def now() -> datetime:
    return datetime.now(UTC)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (peak) / VmSize of a process in KiB, from /proc/<pid>/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "VmSize"):
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def output_to(path: Path | str):
    """Point this process's stdout and stderr (fds 1, 2) at `path` for a while: children started meanwhile (the dev
    server, which prints a banner and its error logs) keep writing there."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log):
            os.close(fd)


def quiet_runtime() -> Runtime:
    """A Temporal runtime that logs errors only: the client retries refused Updates itself and warns each time; the
    benchmarks count the calls that fail in the end instead."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


def dev_server_pid() -> int | None:
    """The `temporal server start-dev` child of this process (started by the SDK), for its CPU time; read only."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[1] != me:
                continue
            if b"start-dev" in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    return None


def machine_info() -> dict:
    import temporalio

    info: dict = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "temporalio": temporalio.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
    }
    try:
        with open("/proc/meminfo") as f:
            mem = {line.split(":")[0]: int(line.split()[1]) for line in f if ":" in line}
        info["mem_total_mib"] = mem["MemTotal"] // 1024
        info["mem_available_mib_at_start"] = mem.get("MemAvailable", 0) // 1024
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor()
            )
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        version = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True, timeout=20)
        info["temporal_cli"] = version.stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        pass
    return info


@dataclass
class Process:
    """A child process this run started; stopped by its own pid only."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def memory(self) -> dict[str, int]:
        return proc_status(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; log tail:\n{tail}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@dataclass
class BenchStack:
    workdir: Path
    encrypt: bool = False
    env: WorkflowEnvironment | None = None
    store: Store | None = None
    sink = None
    smtp_port: int = 0
    codec_keys: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    server_pid: int | None = None
    server_args: list[str] = field(default_factory=list)

    def server_cpu(self) -> float:
        """CPU seconds the dev server has used so far (0 when its process was not found)."""
        try:
            return cpu_seconds(self.server_pid) if self.server_pid else 0.0
        except OSError:
            return 0.0

    @property
    def client(self) -> Client:
        assert self.env is not None
        return self.env.client

    @property
    def address(self) -> str:
        return self.client.service_client.config.target_host

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'runflow.db'}"

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.encrypt:
            self.codec_keys = {"bench": new_key()}
        codec = (
            codec_from_settings(Settings(codec_keys=self.codec_keys, data_dir=self.workdir))
            if self.codec_keys
            else None
        )
        self.store = Store(self.database_url)
        self.store.migrate()
        self.store.seed_reference(default_reference())
        self.smtp_port = free_port()
        self.sink = start_sink(self.workdir / "mail", self.smtp_port, HOST)
        with output_to(self.workdir / "temporal.log"):  # its banner and error logs
            self.env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_cli(),
                search_attributes=sa.all_keys(),
                data_converter=build_data_converter(codec),
                dev_server_log_level="error",
                ip=HOST,
                dev_server_startup_timeout=timedelta(seconds=60),
                dev_server_extra_args=self.server_args,
                runtime=quiet_runtime(),
            )
        self.server_pid = dev_server_pid()

    async def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.env is not None:
            await self.env.shutdown()
            self.env = None
        if self.sink is not None:
            self.sink.stop()
            self.sink = None
        if self.store is not None:
            self.store.engine.dispose()

    def child_env(self, task_queue: str, web_port: int = 8000) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNFLOW_", "TEMPORAL_"))}
        env.update(
            {
                "TEMPORAL_ADDRESS": self.address,
                "TEMPORAL_NAMESPACE": "default",
                "RUNFLOW_DATA_DIR": str(self.workdir),
                "RUNFLOW_DATABASE_URL": self.database_url,
                "RUNFLOW_TASK_QUEUE": task_queue,
                "RUNFLOW_SMTP_HOST": HOST,
                "RUNFLOW_SMTP_PORT": str(self.smtp_port),
                "RUNFLOW_WEB_BASE_URL": f"http://{HOST}:{web_port}",
                "RUNFLOW_SECRET_KEY": "bench-secret-0123456789abcdef-0123",
                "RUNFLOW_SMTP_FROM": "RUN <run@bench.test>",
                "PYTHONUNBUFFERED": "1",
                # every benchmark client posts from 127.0.0.1: the public forms' rate limits must never refuse them
                "RUNFLOW_RATE_LIMIT_REGISTRATIONS_PER_ADDRESS": "1000000/hour",
                "RUNFLOW_RATE_LIMIT_REGISTRATIONS_PER_ACTIVITY": "1000000/hour",
                "RUNFLOW_RATE_LIMIT_PUBLIC_POSTS_PER_ADDRESS": "1000000/hour",
            }
        )
        if self.codec_keys:
            env["RUNFLOW_CODEC_KEYS"] = json.dumps(self.codec_keys)
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log_path = self.workdir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - closed when the process ends
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    async def stop_process(self, process: Process) -> None:
        await asyncio.to_thread(process.stop)
        if process in self.processes:
            self.processes.remove(process)

    async def runflow_worker(self, task_queue: str) -> Process:
        process = self.spawn(f"worker-{task_queue}", [str(BIN / "runflow"), "worker"], self.child_env(task_queue))
        await self.wait_for_pollers(task_queue, process)
        return process

    async def floor_worker(self, task_queue: str) -> Process:
        process = self.spawn(
            f"floor-{task_queue}", [sys.executable, "-m", "bench.floor_worker"], self.child_env(task_queue)
        )
        await self.wait_for_pollers(task_queue, process)
        return process

    async def runflow_web(self, task_queue: str) -> tuple[Process, int]:
        import httpx

        port = free_port()
        process = self.spawn(
            f"web-{port}",
            [str(BIN / "runflow"), "web", "--host", HOST, "--port", str(port), "--connect-timeout", "30"],
            self.child_env(task_queue, port),
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                process.check()
                try:
                    if (await http.get(f"http://{HOST}:{port}/healthz", timeout=2)).status_code == 200:
                        return process, port
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("runflow web did not answer /healthz within 60 s")
                await asyncio.sleep(0.2)

    async def wait_for_pollers(self, task_queue: str, process: Process, timeout: float = 90) -> None:
        """Until the process polls both the workflow and the activity task queue."""
        deadline = time.monotonic() + timeout
        while True:
            process.check()
            seen = 0
            for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
                response = await self.client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self.client.namespace,
                        task_queue_type=kind,
                        task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                    )
                )
                seen += bool(response.pollers)
            if seen == 2:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{process.name} did not poll {task_queue} within {timeout} s")
            await asyncio.sleep(0.25)

    def task_queue(self, what: str) -> str:
        return f"bench-{self.run_id}-{what}"


async def full_history(client: Client, workflow_id: str, run_id: str | None = None) -> list:
    """The events of every run of a workflow, first run first, following continue-as-new."""
    events: list = []
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    history = await handle.fetch_history()
    runs = [history]
    first = history.events[0].workflow_execution_started_event_attributes
    while first.continued_execution_run_id:  # started by continue-as-new: fetch the earlier runs too
        history = await client.get_workflow_handle(workflow_id, run_id=first.continued_execution_run_id).fetch_history()
        runs.insert(0, history)
        first = history.events[0].workflow_execution_started_event_attributes
    for history in runs:
        events.extend(history.events)
    return events


async def gather_limited(limit: int, coros) -> list:
    """asyncio.gather with at most `limit` running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
