"""Asking a running `runflow web` instead of Temporal and the store: the answer at once, with the standard library.

`runflow activity show` costs more to start than to answer: the Temporal client and the store (SQLAlchemy) take
most of a second to import. A web process has both loaded and connected, and its coordinators' API (/api) answers
the same question. So when the deployment's API token and its web's address are both in the environment
(`RUNFLOW_API_TOKEN`, `RUNFLOW_WEB_BASE_URL`, as the web has them), the command asks the web over HTTP (urllib,
http.client: nothing to import beyond the standard library) and prints what it answers, which is what the command
prints when it asks Temporal and the store itself (tests/e2e compare the two).

Anything but a full answer within 2 s (no token or address, no web listening, a refusal, a redirect, a timeout, an
unknown activity, a reply that is not the overview) returns None and the command goes the direct way, which gives
its own answers and errors. The token is sent only over HTTPS or to a web on this machine (loopback), never in
clear over a network, and never on to where a redirect points.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 2.0  # for both requests together: a web that does not answer in time, the direct way instead
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
# What the command prints of the overview (runflow/output.py); a reply without them is no answer.
OVERVIEW_FIELDS = {"id", "title", "phase", "confirmed", "capacity", "min_participants", "waitlisted", "withdrawn"}
OVERVIEW_LISTS = ("sessions", "decisions", "surveys")


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


def _get_json(opener: urllib.request.OpenerDirector, url: str, token: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    request.add_unredirected_header("Authorization", f"Bearer {token}")  # never carried on to a redirect's target
    with opener.open(request, timeout=timeout) as response:
        return json.load(response)


def _is_overview(data: Any, activity_id: str) -> bool:
    return (
        isinstance(data, dict)
        and data.get("id") == activity_id
        and data.keys() >= OVERVIEW_FIELDS
        and all(isinstance(data.get(name), list) for name in OVERVIEW_LISTS)
    )


def activity_through_web(activity_id: str, environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """`runflow activity show ID --json`'s object from the web's API, or None to go the direct way.

    Only when both `RUNFLOW_API_TOKEN` and `RUNFLOW_WEB_BASE_URL` are set: the token never goes to an address
    nobody named (whoever listens on a default port), and the web asked is the deployment's."""
    env = os.environ if environ is None else environ
    token = env.get("RUNFLOW_API_TOKEN", "")
    base = env.get("RUNFLOW_WEB_BASE_URL", "").rstrip("/")
    deadline = time.monotonic() + TIMEOUT_SECONDS
    try:
        parts = urllib.parse.urlsplit(base)
        if not token or not _token_may_go_to(parts):
            return None
        url = f"{base}/api/activities/{urllib.parse.quote(activity_id, safe='')}"
        # To this machine, straight (a proxy from the environment would see the token); elsewhere as the environment
        # says (HTTPS through a proxy is a tunnel the proxy cannot read).
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if parts.scheme == "http":
            handlers.append(urllib.request.ProxyHandler({}))
        opener = urllib.request.build_opener(*handlers)
        overview = _get_json(opener, url, token, TIMEOUT_SECONDS)
        undeliverable = _get_json(opener, url + "/undeliverable", token, max(0.05, deadline - time.monotonic()))
    except (OSError, ValueError, http.client.HTTPException):
        # refused, unreachable, timed out, an HTTP error status, not HTTP, cut short, not JSON, a bad address
        return None
    if not _is_overview(overview, activity_id) or not isinstance(undeliverable, list):
        return None
    return {**overview, "undeliverable": undeliverable}
