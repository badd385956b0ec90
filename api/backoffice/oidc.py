"""Signing in with OpenID Connect: the university's provider, or a SAML-to-OIDC proxy for SWAMID and Skolfederation.

The authorization code flow with PKCE (S256), `state` and `nonce`, by Authlib: the provider's metadata comes from
`{issuer}/.well-known/openid-configuration`, the ID token is checked (signature by the provider's keys, issuer,
audience, expiry, nonce). Authlib keeps state, nonce and the PKCE verifier in `request.session`: a cookie of its
own (`runflow_oidc`, signed with a key derived from the deployment's, HttpOnly, SameSite=Lax, Secure behind TLS,
path /admin), which lives only for the round trip to the provider and is emptied by the callback.

Who may sign in is decided here, not at the provider: the ID token's `sub` (remembered as `issuer + " " + sub`),
or on the first sign-in its `email` when the provider says it is verified, must belong to an active staff member.
Everybody else gets 403. Nothing else of the token is kept.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any
from urllib.parse import urlsplit

import structlog
from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc.errors import JoseError
from starlette.middleware.sessions import SessionMiddleware

from api.backoffice.config import OidcConfig
from api.backoffice.context import ADMIN, BackOffice, local_path
from domain.email_address import MAX_EMAIL_LENGTH, InvalidEmail, parse_email
from domain.tables import StaffMember

log = structlog.get_logger("runflow.backoffice")

ROUND_TRIP_COOKIE = "runflow_oidc"
ROUND_TRIP_SECONDS = 30 * 60  # time to sign in at the provider (a second factor, a password reset)
NEXT_KEY = "runflow_next"
CLIENT_NAME = "runflow"
PROVIDER_SECONDS = 10.0  # each request to the provider (metadata, keys, token)
MAX_SUB = 255  # OpenID Connect Core 1.0, 2: at most 255 ASCII characters
MAX_SUBJECT = 300  # StaffMember.oidc_subject: issuer + " " + sub

NO_ACCESS = (
    "Ditt konto har inte tillgång till RUN:s administration. "
    "Be en samordnare på RUN att lägga till dig om du behöver komma åt den."
)
FAILED = "Inloggningen kunde inte slutföras. Gå tillbaka till inloggningssidan och försök igen."
CANCELLED = "Inloggningen avbröts hos inloggningstjänsten. Gå tillbaka till inloggningssidan om du vill försöka igen."
UNREACHABLE = (
    "Inloggningstjänsten går inte att nå just nu. Försök igen om en stund, eller be om en inloggningslänk via e-post."
)


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of a URL, for a Content-Security-Policy source; None when it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in parts.netloc for c in " ;,'\""):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def verified_email(claims: dict[str, Any]) -> str:
    """The ID token's address, normalised, when the provider vouches for it (`email_verified` true, or no such
    claim: some providers only hand out addresses they manage); "" otherwise."""
    email, verified = claims.get("email"), claims.get("email_verified", True)
    if not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH or verified not in (True, "true"):
        return ""
    try:
        return parse_email(email)
    except InvalidEmail:
        return ""


def starlette_oauth() -> Any:
    """Authlib's Starlette client registry. Imported here, when OpenID Connect is configured: Authlib warns on import
    that it would rather have `httpx2` than `httpx` (it works with either), which would spoil the CLI's one-line
    errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.starlette_client import OAuth

    return OAuth()


class OidcSignIn:
    """The relying party: one Authlib client for the configured provider (its metadata and keys are cached)."""

    def __init__(self, bo: BackOffice, config: OidcConfig) -> None:
        self.bo, self.config = bo, config
        self.redirect_uri = f"{bo.config.base_url.rstrip('/')}{ADMIN}/oidc/callback"
        self.client: Any = starlette_oauth().register(
            CLIENT_NAME,
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.metadata_url,
            client_kwargs={"scope": config.scopes, "code_challenge_method": "S256", "timeout": PROVIDER_SECONDS},
        )
        issuers = list(dict.fromkeys([config.issuer, config.issuer.rstrip("/")]))
        self.claims_options = {
            "iss": {"essential": True, "values": issuers},
            "aud": {"essential": True, "values": [config.client_id]},
            "sub": {"essential": True},
        }

    def install(self, app: FastAPI) -> None:
        app.add_middleware(
            SessionMiddleware,
            secret_key=self.bo.derived_key("oidc round trip"),
            session_cookie=ROUND_TRIP_COOKIE,
            max_age=ROUND_TRIP_SECONDS,
            path=ADMIN,
            same_site="lax",
            https_only=self.bo.config.base_url.startswith("https://"),
        )

    def form_targets(self) -> list[str]:
        """Where the sign-in form's POST may end up after our redirect (the CSP's form-action): the issuer's origin,
        and the authorization endpoint's once the metadata has been read (it is on the issuer's host in practice)."""
        metadata = getattr(self.client, "server_metadata", None) or {}
        urls = [self.config.issuer, str(metadata.get("authorization_endpoint", ""))]
        return list(dict.fromkeys(o for o in map(origin_of, urls) if o is not None))

    def failure(self, request: Request, status: int, line: str) -> HTMLResponse:
        return self.bo.message(
            request,
            "Inloggningen misslyckades" if status != 403 else "Ingen behörighet",
            [line],
            status,
            "bad",
            back=f"{ADMIN}/signin",
            back_text="Till inloggningssidan",
        )

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.post("/oidc/login")
        async def login(request: Request) -> Response:
            form = await self.bo.form(request)
            request.session[NEXT_KEY] = local_path(form.get("next"))
            try:
                redirect: Response = await self.client.authorize_redirect(request, self.redirect_uri)
            except Exception as exc:  # noqa: BLE001 - unreachable, or metadata that make no sense: the same answer
                log.warning("identity provider unreachable", step="metadata", error=type(exc).__name__)
                request.session.clear()
                return self.failure(request, 502, UNREACHABLE)
            return redirect

        @router.get("/oidc/callback", response_class=HTMLResponse)
        async def callback(request: Request) -> Response:
            next_path = local_path(request.session.pop(NEXT_KEY, None))
            try:
                token = await self.client.authorize_access_token(request, claims_options=self.claims_options)
            except OAuthError as exc:  # the provider's error answer, or a state this browser did not start
                log.warning("OIDC sign-in refused", error=exc.error or type(exc).__name__)
                request.session.clear()
                return self.failure(request, 400, CANCELLED if exc.error == "access_denied" else FAILED)
            except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:  # an ID token that does not check out
                log.warning("OIDC sign-in refused", error=type(exc).__name__)
                request.session.clear()
                return self.failure(request, 400, FAILED)
            except Exception as exc:  # noqa: BLE001 - the provider could not be reached (httpx or httpx2 errors)
                log.warning("identity provider unreachable", step="token", error=type(exc).__name__)
                request.session.clear()
                return self.failure(request, 502, UNREACHABLE)
            request.session.clear()
            claims = token.get("userinfo") if isinstance(token, dict) else None
            sub = claims.get("sub") if isinstance(claims, dict) else None
            if not isinstance(claims, dict) or not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUB:
                log.warning("OIDC sign-in refused", error="no ID token or no subject")
                return self.failure(request, 400, FAILED)
            subject = f"{self.config.issuer.rstrip('/')} {sub}"  # a trailing slash added later still finds them
            if len(subject) > MAX_SUBJECT:
                log.warning("OIDC sign-in refused", error="issuer and subject too long to keep")
                return self.failure(request, 400, FAILED)
            member: StaffMember | None = await asyncio.to_thread(
                self.bo.store.link_oidc_subject, verified_email(claims), subject
            )
            if member is None:
                log.info("OIDC sign-in of somebody who is not staff")
                return self.failure(request, 403, NO_ACCESS)
            response = RedirectResponse(next_path, status_code=303)
            await self.bo.start_session(request, response, member)
            log.info("signed in", staff_id=member.id, method="oidc")
            return response

        return router
