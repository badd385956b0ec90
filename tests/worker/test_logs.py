"""Logs: JSON lines with Temporal ids bound, nothing from replay, and no personal data."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from temporalio.worker import Replayer

from worker.converter import build_data_converter
from worker.logs import configure_logging
from workflows.activity_lifecycle import ActivityLifecycleWorkflow

PEOPLE = [("Astrid Lindgren", "astrid@skola.test"), ("Bertil Bengtsson", "bertil@skola.test")]


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "INFO", stream=stream)
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_lifecycle_logs_are_json_with_ids_and_without_personal_data(lab, make_plan, captured):
    plan = make_plan(await lab.now(), min_participants=1)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for name, email in PEOPLE:
        await lab.service.register(plan.id, name=name, email=email, organisation="berg", role="lärare")
    lab.mailer.fail_next = 1  # one failed SMTP send: its error is logged and retried
    await lab.service.withdraw(plan.id, PEOPLE[1][1])
    await handle.result()

    records = lines(captured)
    workflow_lines = [r for r in records if r.get("logger") == "temporalio.workflow"]
    activity_lines = [r for r in records if r.get("logger") == "temporalio.activity"]
    assert any("Phase open -> deciding" in r["event"] for r in workflow_lines)
    assert all(r["workflow_id"] == handle.id and r["run_id"] for r in workflow_lines)
    assert activity_lines and all(r["workflow_id"] == handle.id and r["activity_type"] for r in activity_lines)
    text = captured.getvalue()
    assert "MailDeliveryError" in text  # the failed send shows up, without the address
    for name, email in PEOPLE:
        assert name not in text and email not in text
    assert plan.organiser_email not in text


async def test_replaying_a_workflow_logs_nothing(lab, make_plan, captured):
    plan = make_plan(await lab.now(), min_participants=1)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    await handle.result()
    history = await handle.fetch_history()
    captured.truncate(0)
    captured.seek(0)
    await Replayer(workflows=[ActivityLifecycleWorkflow], data_converter=build_data_converter()).replay_workflow(
        history
    )
    assert [r for r in lines(captured) if r.get("logger") == "temporalio.workflow"] == []


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_failing_send_logs_its_traceback_without_local_variables(fmt):
    """Tracebacks of failed sends name the error and the frames, never the variables (names, addresses)."""
    import asyncio

    from activities_impl.mailer import MemoryMailer
    from activities_impl.outbox import to_email
    from domain.tables import OutboxMessage

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(fmt, "INFO", stream=stream)
    try:
        mailer = MemoryMailer()
        mailer.fail_next = 1
        row = OutboxMessage(
            key="k",
            activity_id="a",
            purpose="registration",
            recipient=PEOPLE[0][1],
            subject=f"Hej {PEOPLE[0][0]}",
            body=f"Hej {PEOPLE[0][0]}!",
        )
        try:
            asyncio.run(mailer.send(to_email(row, "RUN <run@test>")))
        except ConnectionError:
            logging.getLogger("temporalio.activity").warning("Completing activity as failed", exc_info=True)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert "ConnectionError" in text and "test_logs.py" in text  # the traceback is there
    assert PEOPLE[0][0] not in text and PEOPLE[0][1] not in text
    if fmt == "json":
        [record] = lines(stream)
        assert record["exception"][0]["exc_type"] == "ConnectionError"
