"""Payload encryption: an AES-256-GCM payload codec, keys by id, rotation by key id.

Every payload (workflow and activity arguments and results, update and query
payloads, memo, failure details, and with the failure converter of
`worker.converter` failure messages and stack traces too) is serialised whole
and encrypted with the current key; the key id travels in the metadata, so a
payload encrypted with an older key still decrypts as long as that key is
listed. Search attributes are never encrypted (the server indexes them); they
hold no personal data by design.

Keys come from `RUNFLOW_CODEC_KEYS` (JSON: id -> base64 of 32 bytes) and
`RUNFLOW_CODEC_KEY_ID` (the id that encrypts; may be left out when there is one
key). Without them, a dev key file `<data dir>/codec-keys.json` is used if it
exists: `runflow up` writes one, so every runflow process pointed at the same
data dir (CLI, extra workers) reads what the embedded stack wrote.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from worker.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_SIZE = 12
KEY_SIZE = 32
DEV_KEY_FILE = "codec-keys.json"


class CodecError(Exception):
    """A payload that cannot be decrypted: unknown key id, or tampered/corrupt ciphertext."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], key_id: str):
        if key_id not in keys:
            raise ValueError(f"the current key id {key_id!r} is not among the keys")
        for kid, key in keys.items():
            if len(key) != KEY_SIZE:
                raise ValueError(f"the key {kid!r} has {len(key)} bytes, AES-256 needs {KEY_SIZE}")
        # Imported here (~60 ms, ~6 MiB): a process without keys (the dev default, most CLI commands) needs none of it.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key_id = key_id
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_SIZE)
        # The key id is authenticated too: a payload cannot be passed off as encrypted under another key.
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: self.key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours (e.g. written before encryption was switched on)
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f"payload encrypted with unknown key id {key_id!r} "
                f"(known: {', '.join(sorted(self._ciphers))}); add that key to RUNFLOW_CODEC_KEYS"
            )
        from cryptography.exceptions import InvalidTag

        nonce, sealed = payload.data[:NONCE_SIZE], payload.data[NONCE_SIZE:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise CodecError(
                f"payload encrypted with key id {key_id!r} does not decrypt "
                "(tampered, truncated or a different key under the same id)"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def decode_key(key_id: str, text: str) -> bytes:
    """A key from its base64 text; a clear error naming the setting (never the key) otherwise."""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"RUNFLOW_CODEC_KEYS: the key {key_id!r} is not valid base64") from None
    if len(key) != KEY_SIZE:
        raise ValueError(
            f"RUNFLOW_CODEC_KEYS: the key {key_id!r} must be base64 of exactly {KEY_SIZE} bytes, it has {len(key)}"
        )
    return key


def new_key() -> str:
    """A fresh key as base64 text (for RUNFLOW_CODEC_KEYS)."""
    return base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode()


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The codec for these settings: RUNFLOW_CODEC_KEYS, else the dev key file in the data dir, else None."""
    keys, key_id = settings.codec_keys, settings.codec_key_id
    if not keys:
        stored = load_dev_keys(settings.data_dir)
        if stored is None:
            if key_id is not None:
                raise ValueError("RUNFLOW_CODEC_KEY_ID is set but RUNFLOW_CODEC_KEYS is empty")
            return None
        keys, key_id = stored
    if key_id is None:
        if len(keys) != 1:
            raise ValueError(
                "RUNFLOW_CODEC_KEY_ID must name the key that encrypts when RUNFLOW_CODEC_KEYS "
                f"has more than one key (ids: {', '.join(sorted(keys))})"
            )
        key_id = next(iter(keys))
    if key_id not in keys:
        raise ValueError(
            f"RUNFLOW_CODEC_KEY_ID {key_id!r} is not among the ids in RUNFLOW_CODEC_KEYS ({', '.join(sorted(keys))})"
        )
    return EncryptionCodec({kid: decode_key(kid, text) for kid, text in keys.items()}, key_id)


def dev_key_file(data_dir: Path) -> Path:
    return Path(data_dir) / DEV_KEY_FILE


def load_dev_keys(data_dir: Path) -> tuple[dict[str, str], str] | None:
    path = dev_key_file(data_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        keys, key_id = dict(data["keys"]), str(data["key_id"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f'{path}: not a runflow key file ({{"key_id": …, "keys": {{id: base64}}}})') from None
    return keys, key_id


def ensure_dev_keys(data_dir: Path) -> Path:
    """The dev key file of `runflow up`: created once (owner-only), kept so restarts still decrypt."""
    path = dev_key_file(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key_id = f"dev-{datetime.now(UTC):%Y%m%d%H%M%S}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump({"key_id": key_id, "keys": {key_id: new_key()}}, file, indent=2)
            file.write("\n")
    return path
