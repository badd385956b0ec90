"""Settings from the environment (same names everywhere: CLI, worker, web, compose)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebLimits(TypedDict):
    """`Settings.web_limits`: the keyword arguments of `api.web.create_app`, each with its own type."""

    max_body_forms: int
    max_body_api: int
    max_body_codec: int
    rate_limit_registrations_per_address: str
    rate_limit_registrations_per_activity: str
    rate_limit_public_posts_per_address: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNFLOW_", extra="ignore")

    temporal_address: str = Field(
        "localhost:7233", validation_alias=AliasChoices("TEMPORAL_ADDRESS", "RUNFLOW_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        "default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "RUNFLOW_TEMPORAL_NAMESPACE")
    )
    task_queue: str = "runflow"
    data_dir: Path = Path("var")
    database_url: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "RUN <run@runflow.example.se>"
    smtp_timeout: float = 30
    outbox_lease_seconds: float = 60  # a claimed e-mail is taken over after this (> smtp_timeout)
    outbox_recipient_attempts: int = 10  # a mailbox the server keeps putting off (4xx) fails after this many tries
    outbox_batch_size: int = 50  # e-mails claimed at once, sent over one SMTP connection (left to the lease by a crash)
    web_base_url: str = "http://localhost:8000"
    log_format: str = "console"  # console | json
    log_level: str = "INFO"
    # Signs withdrawal links. No default: `runflow up` makes one per data dir; everything else refuses to start
    # without one of at least MIN_SECRET_KEY_LENGTH characters (see `secret_key_problem`).
    secret_key: str = ""
    api_token: str | None = None  # bearer token of the coordinators' HTTP API (/api); unset: the API refuses all
    # Updates (registrations, withdrawals, decisions) this process lets through per activity at once. The sum over
    # every process that sends them (web replicas, CLI) must stay within the Temporal server's
    # history.maxInFlightUpdates (10 by default): two web replicas at 8 need it at 16 or more (BENCHMARKS.md).
    updates_in_flight_per_activity: int = Field(default=8, ge=1, le=1000)

    # Staff sign-in with OpenID Connect (the university's provider, or a SAML-to-OIDC proxy for SWAMID and
    # Skolfederation). All three or none: without them staff sign in with one-time links only. The redirect URI to
    # register at the provider is <web_base_url>/admin/oidc/callback.
    oidc_issuer: str | None = None  # e.g. https://login.miun.se/realms/staff (its /.well-known/openid-configuration)
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None

    # Payload encryption (AES-GCM). Keys by id, base64 of 32 bytes, e.g. {"2026-11": "..."}; the current id encrypts,
    # every listed id decrypts (rotation). No keys: payloads are not encrypted (dev only).
    codec_keys: dict[str, str] = {}
    codec_key_id: str | None = None
    codec_token: str | None = None  # bearer token of the codec server (/codec/encode, /codec/decode)
    codec_cors_origins: list[str] = ["http://localhost:8233", "http://127.0.0.1:8233"]

    # Connection to a hosted or TLS-protected Temporal cluster.
    temporal_tls_cert: Path | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_CERT", "RUNFLOW_TEMPORAL_TLS_CERT")
    )
    temporal_tls_key: Path | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_KEY", "RUNFLOW_TEMPORAL_TLS_KEY")
    )
    temporal_tls_ca: Path | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_CA", "RUNFLOW_TEMPORAL_TLS_CA")
    )
    temporal_tls_server_name: str | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_TLS_SERVER_NAME", "RUNFLOW_TEMPORAL_TLS_SERVER_NAME")
    )
    temporal_api_key: str | None = Field(
        None, validation_alias=AliasChoices("TEMPORAL_API_KEY", "RUNFLOW_TEMPORAL_API_KEY")
    )

    # Hostile input: request body caps (bytes; larger bodies are answered 413) and rate limits of the public forms
    # (`limits` notation such as "60/hour", a moving window counted in each web process's memory; refused: 429).
    max_body_forms: int = 64 * 1024  # the public POSTs /a, /w, /s and every other path outside /api and /codec
    max_body_api: int = 1024 * 1024
    max_body_codec: int = 4 * 1024 * 1024
    rate_limit_registrations_per_address: str = "60/hour"  # a whole school's staff behind one address must fit
    rate_limit_registrations_per_activity: str = "1000/hour"
    rate_limit_public_posts_per_address: str = "300/hour"  # withdrawals and survey answers

    def web_limits(self) -> WebLimits:
        """The body caps and rate limits above, as the keyword arguments of `api.web.create_app`."""
        return WebLimits(
            max_body_forms=self.max_body_forms,
            max_body_api=self.max_body_api,
            max_body_codec=self.max_body_codec,
            rate_limit_registrations_per_address=self.rate_limit_registrations_per_address,
            rate_limit_registrations_per_activity=self.rate_limit_registrations_per_activity,
            rate_limit_public_posts_per_address=self.rate_limit_public_posts_per_address,
        )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'runflow.db').resolve()}"


MIN_SECRET_KEY_LENGTH = 32
KNOWN_DEFAULT_SECRETS = {"dev-only-change-me", "change-me", "changeme", "secret", "runflow"}
SECRET_KEY_FILE = "secret-key"


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign links in anything that listens; None when it will do."""
    hint = "set it to a random value, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if not key.strip():
        return f"RUNFLOW_SECRET_KEY is not set: {hint}"
    if key.strip().lower() in KNOWN_DEFAULT_SECRETS:
        return f"RUNFLOW_SECRET_KEY is a well-known default, so withdrawal links could be forged: {hint}"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"RUNFLOW_SECRET_KEY has fewer than {MIN_SECRET_KEY_LENGTH} characters: {hint}"
    return None


def require_secret_key(settings: Settings) -> None:
    """Refuse to start (ValueError, one line) without a proper signing key."""
    problem = secret_key_problem(settings.secret_key)
    if problem is not None:
        raise ValueError(problem)


def ensure_secret_key(data_dir: Path) -> str:
    """The embedded stack's signing key: made once per data dir (owner-only file), kept so links stay valid."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written in full under a temporary name, then linked into place: a process starting at the same moment
        # sees either no file or the whole key, and the first one made wins.
        temporary = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
