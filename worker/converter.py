"""The one data converter: pydantic payloads (+ a payload codec where configured) for client, worker and replayer."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from worker.codec import codec_from_settings
from worker.settings import Settings


def build_data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    if codec is None:
        return pydantic_data_converter
    # With a codec, failure messages and stack traces move into the (encrypted) encoded attributes too:
    # the history shows "Encoded failure" and the real text only decodes with the key.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter_from_settings(settings: Settings) -> DataConverter:
    """The converter for a client or replayer built from settings (encrypting when keys are configured)."""
    return build_data_converter(codec_from_settings(settings))
