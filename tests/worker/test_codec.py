"""The AES-GCM payload codec, its keys from settings, the converter around it and the Temporal connection options."""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import TLSConfig

from worker.client import connect_options
from worker.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
    codec_from_settings,
    dev_key_file,
    ensure_dev_keys,
    load_dev_keys,
    new_key,
)
from worker.converter import build_data_converter, data_converter_from_settings
from worker.settings import Settings

OLD, NEW = b"o" * 32, b"n" * 32


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def payload(text: str = '{"name": "Anna Andersson", "email": "anna@skola.test"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain", "extra": b"x"}, data=text.encode())


def settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path, **kw)


async def test_round_trip_keeps_the_whole_payload_and_hides_it():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    original = [payload(), payload("[]"), Payload()]
    [encoded, *_] = encoded_all = await codec.encode(original)
    assert dict(encoded.metadata) == {"encoding": ENCODING, KEY_ID_METADATA: b"k1"}
    assert b"Anna" not in encoded.data and b"json/plain" not in encoded.data
    assert await codec.decode(encoded_all) == original


async def test_a_fresh_nonce_for_every_payload():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    first, second = await codec.encode([payload(), payload()])
    assert first.data[:12] != second.data[:12] and first.data != second.data


async def test_rotation_old_payloads_still_decrypt_and_new_ones_use_the_new_key():
    before = EncryptionCodec({"2026-01": OLD}, "2026-01")
    [old] = await before.encode([payload()])
    after = EncryptionCodec({"2026-01": OLD, "2026-07": NEW}, "2026-07")
    assert await after.decode([old]) == [payload()]
    [new] = await after.encode([payload()])
    assert new.metadata[KEY_ID_METADATA] == b"2026-07"
    with pytest.raises(CodecError, match="unknown key id '2026-07'"):
        await before.decode([new])


async def test_unknown_key_id_and_tampering_are_clear_errors():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    [encoded] = await codec.encode([payload()])
    with pytest.raises(CodecError, match="unknown key id 'k9'.*RUNFLOW_CODEC_KEYS"):
        await codec.decode([Payload(metadata={**encoded.metadata, KEY_ID_METADATA: b"k9"}, data=encoded.data)])
    tampered = bytearray(encoded.data)
    tampered[-1] ^= 1
    with pytest.raises(CodecError, match="does not decrypt"):
        await codec.decode([Payload(metadata=encoded.metadata, data=bytes(tampered))])
    # The key id is authenticated: the same bytes claimed under another (known) key id do not decrypt.
    other = EncryptionCodec({"k1": OLD, "k2": OLD}, "k1")
    with pytest.raises(CodecError, match="does not decrypt"):
        await other.decode([Payload(metadata={**encoded.metadata, KEY_ID_METADATA: b"k2"}, data=encoded.data)])


async def test_payloads_that_are_not_encrypted_pass_through():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    assert await codec.decode([payload()]) == [payload()]


def test_codec_from_settings(tmp_path):
    assert codec_from_settings(settings(tmp_path)) is None
    one = codec_from_settings(settings(tmp_path, codec_keys={"a": b64(OLD)}))
    assert one is not None and one.key_id == "a"
    two = codec_from_settings(settings(tmp_path, codec_keys={"a": b64(OLD), "b": b64(NEW)}, codec_key_id="b"))
    assert two.key_id == "b" and sorted(two.key_ids) == ["a", "b"]


@pytest.mark.parametrize(
    "kw, message",
    [
        (
            {"codec_keys": {"a": b64(OLD)}, "codec_key_id": "b"},
            "RUNFLOW_CODEC_KEY_ID 'b' is not among the ids in RUNFLOW_CODEC_KEYS",
        ),
        ({"codec_keys": {"a": b64(OLD), "b": b64(NEW)}}, "RUNFLOW_CODEC_KEY_ID must name the key"),
        ({"codec_keys": {"a": b64(b"short")}}, "RUNFLOW_CODEC_KEYS: the key 'a' must be base64 of exactly 32 bytes"),
        ({"codec_keys": {"a": "not base64!"}}, "RUNFLOW_CODEC_KEYS: the key 'a' is not valid base64"),
        ({"codec_key_id": "a"}, "RUNFLOW_CODEC_KEY_ID is set but RUNFLOW_CODEC_KEYS is empty"),
    ],
)
def test_settings_validation_names_the_setting_and_never_the_key(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message) as raised:
        codec_from_settings(settings(tmp_path, **kw))
    assert b64(OLD) not in str(raised.value)


def test_keys_from_the_environment(tmp_path, monkeypatch):
    key = new_key()
    monkeypatch.setenv("RUNFLOW_CODEC_KEYS", json.dumps({"2026-11": key}))
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(tmp_path))
    codec = codec_from_settings(Settings())
    assert codec is not None and codec.key_id == "2026-11"


async def test_the_dev_key_file_is_made_once_and_used_when_no_keys_are_set(tmp_path):
    assert load_dev_keys(tmp_path) is None
    path = ensure_dev_keys(tmp_path)
    assert path == dev_key_file(tmp_path) and path.stat().st_mode & 0o077 == 0  # owner only
    content = path.read_text()
    assert ensure_dev_keys(tmp_path) == path and path.read_text() == content  # kept across restarts
    codec = codec_from_settings(settings(tmp_path))
    assert codec is not None and codec.key_id == json.loads(content)["key_id"]
    [encoded] = await codec.encode([payload()])
    assert await codec_from_settings(settings(tmp_path)).decode([encoded]) == [payload()]
    # RUNFLOW_CODEC_KEYS wins over the file.
    assert codec_from_settings(settings(tmp_path, codec_keys={"prod": b64(NEW)})).key_id == "prod"
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a runflow key file"):
        codec_from_settings(settings(tmp_path))


async def test_the_converter_encrypts_payloads_and_failure_messages(tmp_path):
    plain = build_data_converter()
    assert plain.payload_codec is None and type(plain.failure_converter) is DefaultFailureConverter
    assert data_converter_from_settings(settings(tmp_path)).payload_codec is None

    converter = data_converter_from_settings(settings(tmp_path, codec_keys={"a": b64(OLD)}))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    [encoded] = await converter.encode([{"email": "anna@skola.test"}])
    assert encoded.metadata["encoding"] == ENCODING
    assert await converter.decode([encoded]) == [{"email": "anna@skola.test"}]

    failure = Failure()
    await converter.encode_failure(ApplicationError("mailbox anna@skola.test is full"), failure)
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert "anna@skola.test" not in str(failure)
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    error = await converter.decode_failure(failure)
    assert str(error) == "mailbox anna@skola.test is full"


# -- Temporal connection options ----------------------------------------------
def test_connect_options_plain_by_default(tmp_path):
    options = connect_options(settings(tmp_path, temporal_address="temporal:7233", temporal_namespace="run"))
    assert options["target_host"] == "temporal:7233" and options["namespace"] == "run"
    assert options["tls"] is False and "api_key" not in options
    assert options["data_converter"].payload_codec is None


def test_connect_options_with_a_client_certificate(tmp_path):
    (tmp_path / "c.pem").write_bytes(b"CERT")
    (tmp_path / "k.pem").write_bytes(b"KEY")
    (tmp_path / "ca.pem").write_bytes(b"CA")
    options = connect_options(
        settings(
            tmp_path,
            temporal_tls_cert=tmp_path / "c.pem",
            temporal_tls_key=tmp_path / "k.pem",
            temporal_tls_ca=tmp_path / "ca.pem",
            temporal_tls_server_name="ns.tmprl.example",
            codec_keys={"a": b64(OLD)},
        )
    )
    assert options["tls"] == TLSConfig(
        client_cert=b"CERT", client_private_key=b"KEY", server_root_ca_cert=b"CA", domain="ns.tmprl.example"
    )
    assert isinstance(options["data_converter"].payload_codec, EncryptionCodec)


def test_connect_options_with_an_api_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret-key")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "run.a1b2c.tmprl.cloud:7233")
    options = connect_options(Settings(data_dir=tmp_path))
    assert options["api_key"] == "secret-key" and options["tls"] is True
    assert options["target_host"] == "run.a1b2c.tmprl.cloud:7233"
    (tmp_path / "ca.pem").write_bytes(b"CA")
    with_ca = connect_options(Settings(data_dir=tmp_path, temporal_tls_ca=tmp_path / "ca.pem"))
    assert with_ca["api_key"] == "secret-key" and with_ca["tls"] == TLSConfig(server_root_ca_cert=b"CA")


@pytest.mark.parametrize(
    "given, missing", [("temporal_tls_cert", "TEMPORAL_TLS_KEY"), ("temporal_tls_key", "TEMPORAL_TLS_CERT")]
)
def test_a_client_certificate_needs_its_key(tmp_path, given, missing):
    (tmp_path / "x.pem").write_bytes(b"X")
    with pytest.raises(ValueError, match=f"{given.upper()} is set but {missing} is not"):
        connect_options(settings(tmp_path, **{given: tmp_path / "x.pem"}))


def test_an_unreadable_certificate_names_the_setting(tmp_path):
    (tmp_path / "k.pem").write_bytes(b"KEY")
    with pytest.raises(ValueError, match="TEMPORAL_TLS_CERT: cannot read .*missing.pem"):
        connect_options(
            settings(tmp_path, temporal_tls_cert=tmp_path / "missing.pem", temporal_tls_key=tmp_path / "k.pem")
        )
