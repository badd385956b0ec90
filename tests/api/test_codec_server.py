"""The codec server for the Temporal UI and CLI: the remote-codec JSON format, the bearer token, CORS, loopback only."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from activities_impl.store import Store
from api.web import create_app
from worker.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec

UI = "http://127.0.0.1:8233"
TOKEN = "codec-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(*texts: str) -> dict:
    """What the UI sends: proto JSON of Payloads, metadata values and data in base64."""
    return {"payloads": [{"metadata": {"encoding": b64(b"json/plain")}, "data": b64(t.encode())} for t in texts]}


@pytest.fixture
def store(tmp_path) -> Store:
    """The codec server never touches the store: an empty one on SQLite is enough (no PostgreSQL variant)."""
    return Store(f"sqlite:///{tmp_path}/runflow.db")


@pytest.fixture
def codec() -> EncryptionCodec:
    return EncryptionCodec({"k1": b"1" * 32}, "k1")


def client_for(app, client=("127.0.0.1", 50000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://web.test")


@pytest.fixture
async def web(store, codec):
    app = create_app(store, codec=codec, codec_token=TOKEN, codec_cors_origins=[UI])
    async with client_for(app) as client:
        yield client


async def test_encode_then_decode_round_trip(web, codec):
    sent = body('{"name": "Anna Andersson"}', '"anna@skola.test"')
    encoded = await web.post("/codec/encode", json=sent, headers={**AUTH, "X-Namespace": "default"})
    assert encoded.status_code == 200, encoded.text
    payloads = encoded.json()["payloads"]
    assert len(payloads) == 2
    for p in payloads:
        assert base64.b64decode(p["metadata"]["encoding"]) == ENCODING
        assert base64.b64decode(p["metadata"][KEY_ID_METADATA]) == b"k1"
        assert b"Anna" not in base64.b64decode(p["data"]) and b"anna@" not in base64.b64decode(p["data"])
    # What the server returns is exactly what the worker's codec writes and reads.
    parsed = json_format.ParseDict(encoded.json(), Payloads())
    assert [p.data for p in await codec.decode(parsed.payloads)] == [
        b'{"name": "Anna Andersson"}',
        b'"anna@skola.test"',
    ]
    decoded = await web.post("/codec/decode", json=encoded.json(), headers=AUTH)
    assert decoded.status_code == 200 and decoded.headers["content-type"] == "application/json"
    assert decoded.json() == sent


async def test_decode_passes_plain_payloads_and_explains_bad_input(web):
    assert (await web.post("/codec/decode", json=body('"x"'), headers=AUTH)).json() == body('"x"')
    assert (await web.post("/codec/decode", json={"payloads": []}, headers=AUTH)).json() == {"payloads": []}
    bad = await web.post("/codec/decode", content=b"not json", headers={**AUTH, "Content-Type": "application/json"})
    assert bad.status_code == 400 and "Payloads" in bad.json()["detail"]
    unknown = {
        "payloads": [{"metadata": {"encoding": b64(ENCODING), KEY_ID_METADATA: b64(b"k9")}, "data": b64(b"\0" * 40)}]
    }
    refused = await web.post("/codec/decode", json=unknown, headers=AUTH)
    assert refused.status_code == 400 and "unknown key id 'k9'" in refused.json()["detail"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}]
)
async def test_without_the_right_bearer_token_401(web, headers):
    for path in ("/codec/encode", "/codec/decode"):
        answer = await web.post(path, json=body('"x"'), headers=headers)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


async def test_cors_preflight_from_the_ui_origin_only(web):
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    allowed = await web.options("/codec/decode", headers=preflight)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == UI
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert {h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")} >= {
        "content-type",
        "x-namespace",
        "authorization",
    }
    assert allowed.headers["access-control-allow-credentials"] == "true"

    other = await web.options("/codec/decode", headers={**preflight, "Origin": "https://evil.example"})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers

    answer = await web.post("/codec/encode", json=body('"x"'), headers={**AUTH, "Origin": UI})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == UI
    # The UI can read a refusal too (so it can say why).
    refused = await web.post("/codec/encode", json=body('"x"'), headers={"Origin": UI})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == UI
    # A page from another origin cannot use a browser (and its user's token) to decode.
    foreign = await web.post("/codec/decode", json=body('"x"'), headers={**AUTH, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize("token", [None, ""])
async def test_without_a_token_only_local_clients(store, codec, token):
    app = create_app(store, codec=codec, codec_token=token, codec_cors_origins=[UI])
    async with client_for(app) as local:
        assert (await local.post("/codec/encode", json=body('"x"'), headers={"Origin": UI})).status_code == 200
        assert (await local.post("/codec/encode", json=body('"x"'))).status_code == 200
    async with client_for(app, client=("10.1.2.3", 50000)) as remote:
        answer = await remote.post("/codec/decode", json=body('"x"'), headers={"Authorization": "Bearer "})
        assert answer.status_code == 403 and "RUNFLOW_CODEC_TOKEN" in answer.json()["detail"]


async def test_no_codec_no_codec_server(store):
    async with client_for(create_app(store)) as client:
        assert (await client.post("/codec/decode", json=body('"x"'))).status_code == 404


def test_the_ui_format_is_proto_json():
    """The field names the UI uses, as protobuf's JSON mapping writes them (not Python's own JSON of the class)."""
    text = json.dumps(body('"x"'))
    parsed = json_format.Parse(text, Payloads())
    assert parsed.payloads[0].metadata["encoding"] == b"json/plain" and parsed.payloads[0].data == b'"x"'
