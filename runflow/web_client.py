"""Asking a running `runflow web` instead of Temporal and the store: the answer at once, with the standard library.

`runflow activity show` costs more to start than to answer: the Temporal client and the store (SQLAlchemy) take
most of a second to import. A web process has both loaded and connected, and its coordinators' API (/api) answers
the same question. So when the deployment's API token is in the environment (`RUNFLOW_API_TOKEN`, as the web has
it), the command asks the web at `RUNFLOW_WEB_BASE_URL` over HTTP (urllib, http.client: nothing to import beyond
the standard library) and prints what it answers, which is what the command prints when it asks Temporal and the
store itself (a test compares the two).

Anything but a full answer (no token, no web listening, a refusal, a timeout, an unknown activity) returns None and
the command goes the direct way, which gives its own answers and errors. The token is sent only over HTTPS or to a
web on this machine (loopback), never in clear over a network.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

# The settings' default (worker.settings.Settings.web_base_url; a test keeps the two the same), read here from the
# environment as the settings read it, without importing pydantic-settings.
DEFAULT_WEB_BASE_URL = "http://localhost:8000"
TIMEOUT_SECONDS = 5.0  # a web that does not answer in time: the direct way instead
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _token_may_go_to(url: urllib.parse.SplitResult) -> bool:
    """HTTPS anywhere, plain HTTP only to this machine."""
    if url.scheme == "https":
        return True
    if url.scheme != "http" or not url.hostname:
        return False
    if url.hostname in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(url.hostname).is_loopback
    except ValueError:
        return False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is no answer: urllib would follow it with the Authorization header, to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get_json(opener: urllib.request.OpenerDirector, url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
        return json.load(response)


def activity_through_web(activity_id: str, environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """`runflow activity show ID --json`'s object from the web's API, or None to go the direct way."""
    env = os.environ if environ is None else environ
    token = env.get("RUNFLOW_API_TOKEN", "")
    base = env.get("RUNFLOW_WEB_BASE_URL", DEFAULT_WEB_BASE_URL).rstrip("/")
    try:
        parts = urllib.parse.urlsplit(base)
    except ValueError:
        return None
    if not token or not _token_may_go_to(parts):
        return None
    url = f"{base}/api/activities/{urllib.parse.quote(activity_id, safe='')}"
    # To this machine, straight (a proxy from the environment would see the token); elsewhere as the environment says.
    handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
    if parts.scheme == "http":
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    try:
        overview = _get_json(opener, url, token)
        undeliverable = _get_json(opener, url + "/undeliverable", token)
    except (OSError, ValueError):  # refused, unreachable, timed out, an HTTP error status, not JSON
        return None
    if not isinstance(overview, dict) or overview.get("id") != activity_id or not isinstance(undeliverable, list):
        return None
    return {**overview, "undeliverable": undeliverable}
