"""What the back-office needs from the deployment: how to mail a sign-in link, where it lives, the identity provider.

`backoffice_config(settings)` builds it from the environment (`worker.settings.Settings`): `runflow web` and
`runflow up` both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from activities_impl.mailer import Mailer
from domain.staff import SESSION_LIFETIME
from worker.settings import Settings
from worker.worker import smtp_mailer

OIDC_SETTINGS = ("RUNFLOW_OIDC_ISSUER", "RUNFLOW_OIDC_CLIENT_ID", "RUNFLOW_OIDC_CLIENT_SECRET")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class OidcConfig:
    """The university's OpenID Connect provider (or a SAML-to-OIDC proxy for SWAMID and Skolfederation)."""

    issuer: str  # e.g. https://login.miun.se/realms/staff; its /.well-known/openid-configuration is read
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    label: str = "Logga in med ditt konto vid Mittuniversitetet"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


@dataclass(frozen=True)
class BackOfficeConfig:
    base_url: str = "http://localhost:8000"  # where sign-in links point
    mailer: Mailer | None = None  # sign-in links by e-mail; None: links only from `runflow staff link`
    mail_sender: str = "RUN <run@runflow.example.se>"
    oidc: OidcConfig | None = None
    session_lifetime: timedelta = SESSION_LIFETIME
    rate_limit_signin_links: str = "5/hour"  # sign-in links asked for, per address asked for and per client


def oidc_config(settings: Settings) -> OidcConfig | None:
    """The identity provider of these settings; None when none is set. ValueError (one line) for a partial set or
    an issuer that is not https (plain http only on this machine, for development and tests)."""
    values = [settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret]
    given = [bool(value and value.strip()) for value in values]
    if not any(given):
        return None
    if not all(given):
        missing = [name for name, ok in zip(OIDC_SETTINGS, given, strict=True) if not ok]
        raise ValueError(
            f"{', '.join(OIDC_SETTINGS)} go together: set all three or none (missing: {', '.join(missing)})"
        )
    issuer, client_id, client_secret = (value.strip() for value in values if value)
    try:
        parts = urlsplit(issuer)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or not host or parts.query or parts.fragment:
        raise ValueError(f"RUNFLOW_OIDC_ISSUER {issuer[:100]!r} is not a URL such as https://login.example.se/realm")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOCAL_HOSTS):
        raise ValueError(f"RUNFLOW_OIDC_ISSUER {issuer[:100]!r} must use https")
    return OidcConfig(issuer=issuer, client_id=client_id, client_secret=client_secret)


def backoffice_config(settings: Settings, mailer: Mailer | None = None) -> BackOfficeConfig:
    """The back-office of a deployment: links point at RUNFLOW_WEB_BASE_URL, sign-in links are mailed over SMTP
    (`mailer`, by default the SMTP settings'), OpenID Connect when RUNFLOW_OIDC_* are set (ValueError when only
    some are)."""
    return BackOfficeConfig(
        base_url=settings.web_base_url,
        mailer=mailer if mailer is not None else smtp_mailer(settings),
        mail_sender=settings.smtp_from,
        oidc=oidc_config(settings),
    )
