"""`runflow web`: the web app as a production process (uvicorn), settings from the environment.

Unlike `runflow up`, nothing else is started here: the store must already be
migrated (`runflow db upgrade`), Temporal and the workers run elsewhere. The
app is the one of `api.web.create_app`: participant pages, the back-office
under `/admin` (sign-in links mailed over SMTP; OpenID Connect when
RUNFLOW_OIDC_* are set), the coordinators' API under `/api` (RUNFLOW_API_TOKEN
or personal tokens), the codec server under `/codec` (when RUNFLOW_CODEC_KEYS
is set) and `/healthz`.

Behind a reverse proxy, uvicorn honours `X-Forwarded-For`/`-Proto` from the
addresses in `--forwarded-allow-ips` (default: uvicorn's, i.e. the
`FORWARDED_ALLOW_IPS` variable or 127.0.0.1).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from api.backoffice.config import backoffice_config, oidc_config
from api.service import Service
from api.web import create_app
from worker.client import connect
from worker.codec import codec_from_settings
from worker.logs import configure_logging
from worker.settings import Settings, get_settings, require_secret_key
from worker.wiring import open_store

log = structlog.get_logger("runflow.web")


@dataclass
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    connect_timeout: float = 60.0  # how long to wait for Temporal at start before giving up (exit code 1)
    forwarded_allow_ips: str | None = None


async def connect_with_retry(settings: Settings, timeout: float) -> Client:
    """Connect to Temporal, retrying for up to `timeout` seconds (Temporal may still be starting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.5
    while True:
        try:
            return await connect(settings)
        except ValueError:
            raise  # a configuration error (TLS files, codec keys): retrying does not help
        except Exception as exc:  # noqa: BLE001 - anything else: Temporal not (yet) reachable
            if loop.time() + delay > deadline:
                raise ConnectionError(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
            log.info("waiting for Temporal", temporal=settings.temporal_address, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def build_app(settings: Settings, client: Client) -> FastAPI:
    """The web app for these settings, on a connected client (the store is not migrated here)."""
    store = open_store(settings)
    service = Service(client, store, settings.task_queue, updates_in_flight=settings.updates_in_flight_per_activity)
    return create_app(
        store,
        service,
        secret_key=settings.secret_key,
        coordinator_api_token=settings.api_token,
        codec=codec_from_settings(settings),
        codec_token=settings.codec_token,
        codec_cors_origins=settings.codec_cors_origins,
        backoffice=backoffice_config(settings),
        **settings.web_limits(),
    )


def warnings_for(settings: Settings) -> list[str]:
    """Settings that work but should not be used in production."""
    found = []
    if settings.effective_database_url.startswith("sqlite"):
        found.append("RUNFLOW_DATABASE_URL is not set: the store is a SQLite file in the data dir")
    if not settings.codec_keys:
        found.append("RUNFLOW_CODEC_KEYS is not set: payloads in Temporal are not encrypted")
    if settings.api_token is None:
        found.append("RUNFLOW_API_TOKEN is not set: the coordinators' API (/api) takes personal tokens only")
    return found


def uvicorn_config(app: FastAPI, config: WebConfig) -> uvicorn.Config:
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "proxy_headers": True,
        "server_header": False,
        "log_config": None,
    }  # keep runflow's logging (JSON lines with RUNFLOW_LOG_FORMAT=json)
    if config.forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = config.forwarded_allow_ips
    return uvicorn.Config(app, **options)


async def serve(settings: Settings, config: WebConfig) -> None:
    """Connect, build the app and serve until SIGINT/SIGTERM."""
    for warning in warnings_for(settings):
        log.warning(warning)
    client = await connect_with_retry(settings, config.connect_timeout)
    app = build_app(settings, client)
    server = uvicorn.Server(uvicorn_config(app, config))
    log.info(
        "web starting",
        host=config.host,
        port=config.port,
        temporal=settings.temporal_address,
        namespace=settings.temporal_namespace,
    )
    # On SIGTERM/SIGINT uvicorn stops accepting, drains the open requests, then re-raises the signal: the
    # process ends "killed by SIGTERM" (exit status 143 in Docker), after a clean shutdown.
    await server.serve()


def run_web(config: WebConfig, settings: Settings | None = None) -> int:
    """`runflow web`: 0 after a clean shutdown, 1 when Temporal is unreachable, 2 on a configuration error."""
    settings = settings or get_settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        require_secret_key(settings)  # never listen with a default or empty signing key
        oidc_config(settings)  # RUNFLOW_OIDC_*: all three or none, checked before waiting for Temporal
        asyncio.run(serve(settings, config))
    except ConnectionError as exc:
        log.error(str(exc))
        return 1
    except ValueError as exc:
        log.error(str(exc))
        return 2
    return 0
