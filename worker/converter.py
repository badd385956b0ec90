"""The one data converter: pydantic payloads (+ a payload codec where configured) for client, worker and replayer."""

from __future__ import annotations

import dataclasses

from temporalio.converter import DataConverter, PayloadCodec
from temporalio.contrib.pydantic import pydantic_data_converter


def build_data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
