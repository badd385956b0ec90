"""Connecting to Temporal with runflow's data converter, and TLS / API key for a hosted cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import TLSConfig

from worker.converter import data_converter_from_settings
from worker.settings import Settings


def _read(path: Path, setting: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def tls_config(settings: Settings) -> TLSConfig | None:
    """TLS from TEMPORAL_TLS_CERT/_KEY (client certificate, mTLS), _CA (server root) and _SERVER_NAME; None if unset."""
    cert, key = settings.temporal_tls_cert, settings.temporal_tls_key
    if (cert is None) != (key is None):
        missing, given = (
            ("TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CERT") if key is None else ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")
        )
        raise ValueError(
            f"{given} is set but {missing} is not: a client certificate needs its private key (set both or neither)"
        )
    if cert is None and settings.temporal_tls_ca is None and settings.temporal_tls_server_name is None:
        return None
    return TLSConfig(
        client_cert=_read(cert, "TEMPORAL_TLS_CERT") if cert is not None else None,
        client_private_key=_read(key, "TEMPORAL_TLS_KEY") if key is not None else None,
        server_root_ca_cert=_read(settings.temporal_tls_ca, "TEMPORAL_TLS_CA")
        if settings.temporal_tls_ca is not None
        else None,
        domain=settings.temporal_tls_server_name,
    )


def connect_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `Client.connect` for these settings (no I/O but reading the certificate files)."""
    tls: bool | TLSConfig = tls_config(settings) or False
    options: dict[str, Any] = {
        "target_host": settings.temporal_address,
        "namespace": settings.temporal_namespace,
        "data_converter": data_converter_from_settings(settings),
    }
    if settings.temporal_api_key:
        options["api_key"] = settings.temporal_api_key
        tls = tls or True  # an API key is only ever sent over TLS
    options["tls"] = tls
    return options


async def connect(settings: Settings) -> Client:
    return await Client.connect(**connect_options(settings))
