"""Connecting to Temporal with runflow's data converter."""

from __future__ import annotations

from temporalio.client import Client

from worker.converter import build_data_converter
from worker.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=build_data_converter())
