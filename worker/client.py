"""Connecting to Temporal with runflow's data converter, and TLS / API key for a hosted cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile

from worker.converter import data_converter_from_settings
from worker.settings import Settings


def _read(path: Path, setting: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def _check_files(settings: Settings) -> None:
    """Clear, one-line errors before Temporal's config reads the files: a certificate needs its key, and every
    file named must be readable."""
    cert, key = settings.temporal_tls_cert, settings.temporal_tls_key
    if (cert is None) != (key is None):
        missing, given = (
            ("TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CERT") if key is None else ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")
        )
        raise ValueError(
            f"{given} is set but {missing} is not: a client certificate needs its private key (set both or neither)"
        )
    for path, setting in (
        (cert, "TEMPORAL_TLS_CERT"),
        (key, "TEMPORAL_TLS_KEY"),
        (settings.temporal_tls_ca, "TEMPORAL_TLS_CA"),
    ):
        if path is not None:
            _read(path, setting)


def connect_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `Client.connect` for these settings, built by Temporal's own client configuration
    (`temporalio.envconfig`: an API key implies TLS, certificate files are read), from runflow's settings."""
    _check_files(settings)
    given = {
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_API_KEY": settings.temporal_api_key,
        "TEMPORAL_TLS_CLIENT_CERT_PATH": settings.temporal_tls_cert,
        "TEMPORAL_TLS_CLIENT_KEY_PATH": settings.temporal_tls_key,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": settings.temporal_tls_ca,
        "TEMPORAL_TLS_SERVER_NAME": settings.temporal_tls_server_name,
    }
    env = {
        name: str(Path(value).expanduser()) if isinstance(value, Path) else value
        for name, value in given.items()
        if value
    }
    profile = ClientConfigProfile.load(disable_file=True, override_env_vars=env)
    options: dict[str, Any] = dict(profile.to_client_connect_config())
    options.setdefault("namespace", settings.temporal_namespace)
    options.setdefault("tls", False)
    options["data_converter"] = data_converter_from_settings(settings)
    return options


async def connect(settings: Settings) -> Client:
    return await Client.connect(**connect_options(settings))
