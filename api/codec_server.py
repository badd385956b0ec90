"""The codec server: `/codec/encode` and `/codec/decode` for the Temporal UI and CLI.

Body and answer follow Temporal's remote-codec format, the proto JSON of
`temporal.api.common.v1.Payloads`: `{"payloads": [{"metadata": {"encoding":
"<base64>", …}, "data": "<base64>"}]}`.

Who may call it:

- `RUNFLOW_CODEC_TOKEN` set: every request needs `Authorization: Bearer <token>`
  (the CLI sends it with `--codec-auth "Bearer <token>"`; a hosted UI through a
  proxy that adds it). Wrong or missing: 401.
- unset (the embedded dev stack): only clients on the loopback interface, i.e.
  a browser on the same machine as `runflow up`; anyone else gets 403.
- either way, a request whose `Origin` is not one of `RUNFLOW_CODEC_CORS_ORIGINS`
  is refused (403), so no other web page can use a browser to decode.

CORS: the preflight (`OPTIONS`) from an allowed origin is answered with that
origin, `POST`, and the headers the UI sends (`Content-Type`, `Authorization`,
`X-Namespace`), with credentials allowed; other origins get no CORS headers.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

ALLOWED_HEADERS = "Content-Type, Authorization, X-Namespace"


def codec_router(codec: PayloadCodec, token: str | None = None, cors_origins: Iterable[str] = ()) -> APIRouter:
    """Routes `/encode` and `/decode` (mount with prefix `/codec`)."""
    origins = {o.rstrip("/") for o in cors_origins}
    token = token or None  # an empty RUNFLOW_CODEC_TOKEN is no token (never "Bearer " with nothing after it)
    router = APIRouter(include_in_schema=False)

    def cors_headers(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is None or origin.rstrip("/") not in origins:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}

    def refusal(request: Request) -> JSONResponse | None:
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in origins:
            return JSONResponse({"detail": "origin not allowed"}, 403)
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                return JSONResponse(
                    {"detail": "a valid bearer token is required"},
                    401,
                    headers={"WWW-Authenticate": "Bearer", **cors_headers(request)},
                )
        elif not _is_loopback(request):
            return JSONResponse(
                {"detail": "the codec server without RUNFLOW_CODEC_TOKEN only answers local clients"},
                403,
                headers=cors_headers(request),
            )
        return None

    async def handle(request: Request, encode: bool) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        payloads = Payloads()
        try:
            json_format.Parse(await request.body(), payloads, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return JSONResponse({"detail": f"not a Payloads JSON object: {exc}"}, 400, headers=cors_headers(request))
        try:
            if encode:
                await codec.encode_wrapper(payloads)
            else:
                await codec.decode_wrapper(payloads)
        except Exception as exc:  # noqa: BLE001 - unknown key id, tampered data: say so, keep serving
            return JSONResponse({"detail": str(exc)}, 400, headers=cors_headers(request))
        # Always with the "payloads" key (proto JSON would leave an empty list out).
        answer = {"payloads": [json_format.MessageToDict(p) for p in payloads.payloads]}
        return JSONResponse(answer, headers=cors_headers(request))

    def preflight(request: Request) -> Response:
        headers = cors_headers(request)
        if not headers:
            return Response(status_code=403)
        return Response(
            status_code=204,
            headers={
                **headers,
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )

    @router.post("/encode")
    async def encode(request: Request) -> Response:
        return await handle(request, encode=True)

    @router.post("/decode")
    async def decode(request: Request) -> Response:
        return await handle(request, encode=False)

    router.add_api_route("/encode", preflight, methods=["OPTIONS"])
    router.add_api_route("/decode", preflight, methods=["OPTIONS"])
    return router


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
