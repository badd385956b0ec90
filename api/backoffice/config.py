"""What the back-office needs from the deployment: how to mail a sign-in link, where it lives, the identity provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from activities_impl.mailer import Mailer
from domain.staff import SESSION_LIFETIME


@dataclass(frozen=True)
class OidcConfig:
    """The university's OpenID Connect provider (or a SAML-to-OIDC proxy for SWAMID and Skolfederation)."""

    issuer: str  # e.g. https://login.miun.se/realms/staff; its /.well-known/openid-configuration is read
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    label: str = "Logga in med ditt konto vid Mittuniversitetet"


@dataclass(frozen=True)
class BackOfficeConfig:
    base_url: str = "http://localhost:8000"  # where sign-in links point
    mailer: Mailer | None = None  # sign-in links by e-mail; None: links only from `runflow staff link`
    mail_sender: str = "RUN <run@runflow.example.se>"
    oidc: OidcConfig | None = None
    session_lifetime: timedelta = SESSION_LIFETIME
    rate_limit_signin_links: str = "5/hour"  # sign-in links asked for, per address asked for and per client
