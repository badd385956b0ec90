"""With the encrypting converter end to end: a whole lifecycle on its own time-skipping server, then its raw history.

Client, worker and replayer share one converter (`build_data_converter(codec)`), as in production. The raw history
(fetched with a client that has no key) must hold no name, e-mail address, free-text answer or plan title anywhere,
every payload but the search attributes must be encrypted, and failure messages must be encoded too.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities_impl.mailer import MemoryMailer
from activities_impl.store import Store
from api.web import create_app
from domain.phases import Phase
from domain.reference import default_reference
from domain.state import LifecycleInput
from tests.conftest import Lab, register_search_attributes
from tests.support.plans import plan_at
from tests.web_client import post_form
from worker import binaries
from worker.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec
from worker.converter import build_data_converter
from workflows import search_attributes as sa
from workflows.activity_lifecycle import (
    ANSWER_BEFORE_RECORDING,
    MAILINGS_HEARTBEAT_OFTEN,
    OPEN_BEFORE_INVITING,
    SEARCH_ATTRIBUTES_ONCE_PER_TASK,
    ActivityLifecycleWorkflow,
)

# The patches this lifecycle (confirmed, not cancelled) takes: their ids are the only plain text in its markers.
PATCHES = {ANSWER_BEFORE_RECORDING, OPEN_BEFORE_INVITING, SEARCH_ATTRIBUTES_ONCE_PER_TASK, MAILINGS_HEARTBEAT_OFTEN}

KEY_ID = "test-2026-11"
CODEC = EncryptionCodec({KEY_ID: os.urandom(32)}, KEY_ID)
CONVERTER = build_data_converter(CODEC)

PEOPLE = [
    ("Astrid Lindqvist", "astrid.lindqvist@skola.test", "sundsvall"),
    ("Bertil Öberg", "bertil.oberg@skola.test", "ostersund"),
]
TEAM = ["Cecilia Holm", "Dragan Nikolić"]
TEAM_CONTACT = ("Cecilia Holm", "cecilia.holm@skola.test", "are")
FREE_TEXT = "Läsloggarna fungerade fint i klass 4B hos Rektor Sundin"
TITLE = "Hemlig titel om läsförståelse i Ånge"


@pytest.fixture(scope="module")
async def encrypted_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binaries.test_server(), data_converter=CONVERTER
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
def idle_lab(encrypted_env, tmp_path, settings) -> Lab:
    """A lab on the encrypting server (SQLite only: the store is not what this tests), its worker not started."""
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    store.seed_reference(default_reference())
    return Lab(encrypted_env, store, MemoryMailer(), settings)


@pytest.fixture
async def lab(idle_lab) -> AsyncIterator[Lab]:
    async with idle_lab.worker():
        yield idle_lab


def walk(node, path=()):
    """Every (path, dict) in a proto-JSON tree."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from walk(value, path)


def is_payload(node: dict) -> bool:
    return "metadata" in node and set(node) <= {"metadata", "data", "externalPayloads"}


async def test_the_raw_history_holds_no_personal_data_and_still_replays(lab):
    plan = plan_at(
        await lab.now(),
        title=TITLE,
        places=5,
        min_participants=2,
        teams={"allowed": True, "min_size": 2, "max_size": 3},
    )
    lab.mailer.fail_next = 1  # the invitation fails once and is retried (a real server keeps its last failure)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=30))  # past the retry of the invitation
    for name, email, org in PEOPLE:
        await lab.service.register(plan.id, name=name, email=email, organisation=org, role="lärare", school="Ekskolan")
    name, email, org = TEAM_CONTACT
    team = await lab.service.register(
        plan.id, name=name, email=email, organisation=org, role="lärare", team_members=TEAM
    )
    assert team.status.value == "confirmed"

    # With the codec, queries and updates work as before.
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.OPEN and status.confirmed == 4 and status.title == TITLE

    session = plan.sessions[0]
    await lab.advance_to(session.start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, [email for _, email, _ in PEOPLE])
    await lab.advance_to(session.end + timedelta(seconds=5))
    survey = lab.mails("survey", to=PEOPLE[0][1])[0].get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://web\.test(/s/\S+)", survey).group(1)
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test") as web:
        answered = await post_form(web, link, {"behov": "4", "balans": "5", "ny_kunskap": "3", "ta_med": FREE_TEXT})
    assert "Tack för dina svar!" in answered.text

    result = await handle.result()
    assert result.phase is Phase.ANONYMISED and result.title == TITLE
    description = await handle.describe()
    assert (await description.memo())["title"] == TITLE  # the memo decrypts for a client with the key
    assert description.typed_search_attributes.get(sa.PHASE) == "anonymised"  # never encrypted

    # The raw history, as the server stores it and as anyone without the key sees it.
    keyless = await Client.connect(lab.env.client.service_client.config.target_host, namespace=lab.env.client.namespace)
    history = await keyless.get_workflow_handle(handle.id).fetch_history()
    raw = history.to_json()
    tree = json.loads(raw)

    payloads, indexed, patches, plain_texts = 0, 0, set(), [raw]
    for path, node in walk(tree):
        if not is_payload(node):
            continue
        if "markerRecordedEventAttributes" in path and "patch-data" in path:
            # The SDK's core writes a patch marker's data itself, never through the codec: the patch id, nothing else.
            data = json.loads(base64.b64decode(node["data"]))
            assert data["id"] in PATCHES and set(data) <= {"id", "deprecated"}, data
            patches.add(data["id"])
            continue
        if "searchAttributes" in path:  # never encrypted, so the server can index them: ids, enums, counts, times
            indexed += 1
            assert base64.b64decode(node["metadata"]["encoding"]) == b"json/plain", path
            plain_texts.append(base64.b64decode(node.get("data", "")).decode("utf-8", "replace"))
            continue
        payloads += 1
        metadata = {k: base64.b64decode(v) for k, v in node["metadata"].items()}
        assert metadata.get("encoding") == ENCODING, (path, metadata)
        assert metadata.get(KEY_ID_METADATA) == KEY_ID.encode(), path
        plain_texts.append(base64.b64decode(node.get("data", "")).decode("utf-8", "replace"))
    assert payloads > 20 and indexed > 0 and patches == PATCHES
    everything = "\n".join(plain_texts)
    secrets = [
        TITLE,
        plan.organiser_email,
        FREE_TEXT,
        "Ekskolan",
        "O111",
        "meet.test",
        *TEAM,
        *(part for person in [*PEOPLE, TEAM_CONTACT] for part in person[:2]),
    ]
    for secret in secrets:
        assert secret not in everything, secret
        assert secret.encode() not in raw.encode()

    # Failures (the retried invitation leaves one where the server records the last failure): encoded.
    assert_failures_encoded(tree)

    # The code replays its encrypted history with the same converter.
    await Replayer(workflows=[ActivityLifecycleWorkflow], data_converter=CONVERTER).replay_workflow(history)


def assert_failures_encoded(tree) -> list[dict]:
    """Every failure in the history has "Encoded failure" as its message and its real text encrypted."""
    failures = [
        node
        for _, node in walk(tree)
        if "encodedAttributes" in node
        or "stackTrace" in node
        or ("message" in node and ("source" in node or "applicationFailureInfo" in node))
    ]
    for node in failures:
        assert node["message"] == "Encoded failure" and not node.get("stackTrace"), node
        assert base64.b64decode(node["encodedAttributes"]["metadata"]["encoding"]) == ENCODING
    return failures


# The SDK leaves the run coroutine of a workflow whose @workflow.init raised unawaited (freed with the worker).
@pytest.mark.filterwarnings("ignore:coroutine .*run_workflow.* was never awaited:RuntimeWarning")
async def test_failure_messages_and_stack_traces_are_encoded(idle_lab):
    lab = idle_lab
    async with lab.worker():
        handle = await lab.env.client.start_workflow(
            ActivityLifecycleWorkflow.run,
            LifecycleInput(),
            id=f"activity-broken-{os.urandom(4).hex()}",
            task_queue=lab.task_queue,
        )
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    gc.collect()  # here, where the warning filter above applies
    assert str(raised.value.cause) == "the workflow needs a plan or a state"  # decoded for a client with the key

    history = await handle.fetch_history()
    raw = history.to_json()
    assert "the workflow needs a plan" not in raw and "activity_lifecycle.py" not in raw
    [failure] = assert_failures_encoded(json.loads(raw))
    [event] = [e for e in history.events if e.HasField("workflow_execution_failed_event_attributes")]
    stored = event.workflow_execution_failed_event_attributes.failure
    assert stored.message == "Encoded failure" and stored.HasField("application_failure_info")
    decoded = await CONVERTER.decode_failure(Failure.FromString(stored.SerializeToString()))
    assert str(decoded) == "the workflow needs a plan or a state"
