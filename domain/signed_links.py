"""Withdrawal links: a registration id signed with the deployment's key (HMAC-SHA256), so that only the person the
e-mail went to can withdraw. Pure: the key comes from the caller (`RUNFLOW_SECRET_KEY`, never a default)."""

from __future__ import annotations

import hashlib
import hmac


def sign(value: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{value}.{digest}"


def verify(token: str, secret: str) -> str | None:
    value, _, _ = token.rpartition(".")
    return value if value and hmac.compare_digest(sign(value, secret), token) else None
