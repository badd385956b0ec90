"""Posting the public forms like a browser: GET the page with the form (the CSRF cookie lands in the client's
cookie jar), then POST with the page's `csrf_token` field.

The token belongs to the cookie, not to one form: a token from any form page of the app works for every public
POST of the same client (`token_from` names that page when `path` itself shows no form, e.g. an unknown activity).
"""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')


def csrf_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, f"no csrf_token field in the page: {html[:300]}"
    return found.group(1)


async def fetch_token(client: httpx.AsyncClient, path: str) -> str:
    """GET `path` (sets the cookie when the client has none) and return its form's token."""
    page = await client.get(path)
    return csrf_token(page.text)


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict | None = None, *, token_from: str | None = None, **kwargs
) -> httpx.Response:
    """GET the form page (`token_from`, default `path`), then POST `data` with its token to `path`."""
    token = await fetch_token(client, token_from or path)
    return await client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)
