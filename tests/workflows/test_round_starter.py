"""The round starter on the time-skipping server (which has no schedules: the tests start the starter as a schedule
would, with the nominal time in the input): two firings make two rounds with their own dates, each running its own
lifecycle; a firing retried or delivered twice makes one round; the history holds ids and times only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities_impl.round_activities import ROUND_CREATED, RoundActivities
from domain.phases import Phase
from domain.rounds import RoundRequest, RoundStarterInput, round_id, round_plan
from domain.texts import STOCKHOLM
from tests.workflows.test_activity_lifecycle import decoded_history
from worker.worker import build_activities
from workflows.activity_lifecycle import ActivityLifecycleWorkflow, workflow_id
from workflows.round_starter import RoundStarterWorkflow


async def fire(lab, template_id, nominal, *, task_queue=None, suffix=""):
    """Start the starter as the template's schedule would at `nominal` (its id: the schedule's id and the time)."""
    handle = await lab.env.client.start_workflow(
        RoundStarterWorkflow.run,
        RoundStarterInput(template_id=template_id, nominal_time=nominal),
        id=f"round-{template_id}-{nominal.isoformat()}{suffix}",
        task_queue=task_queue or lab.task_queue,
    )
    lab.started.append(handle)  # recorded for the replay gate (make record-histories) and ended with the test
    return handle


@pytest.fixture
async def template(lab, make_plan):
    """A template: a plan kept in the store, never started itself (its own id: the server outlives the test)."""
    plan = make_plan(await lab.now(), id=f"natverk-{uuid.uuid4().hex[:8]}", title="Nätverk för specialpedagoger")
    lab.store.save_plan(plan, False)
    return plan


def clock(at):
    """The time of day in Sweden."""
    return at.astimezone(STOCKHOLM).strftime("%H:%M")


async def end_rounds(lab, monkeypatch, ids):
    handles = [lab.env.client.get_workflow_handle(workflow_id(i)) for i in ids]
    with monkeypatch.context() as m:
        m.delenv("RUNFLOW_RECORD_HISTORIES", raising=False)
        await lab.settle(handles)


async def test_two_firings_make_two_rounds_with_their_own_dates(lab, template, monkeypatch):
    first = await lab.now() + timedelta(days=30)
    second = first + timedelta(weeks=26)  # across a change to or from summer time
    made = []
    try:
        for nominal in (first, second):
            result = await (await fire(lab, template.id, nominal)).result()
            made.append(result.round_id)
            assert result.round_id == round_id(template.id, nominal)
            assert result.started and result.plan_version == 1 and result.nominal_time == nominal
            expected = round_plan(template, nominal)
            assert lab.store.plan(result.round_id) == expected  # stored, and current: the version its workflow runs
            assert lab.store.activity(result.round_id).current_version == 1
            status = await lab.service.status(result.round_id)
            assert status.phase in (Phase.PLANNED, Phase.OPEN)
            assert status.deadline == expected.registration.deadline
            assert [(s.start, s.end) for s in status.sessions] == [(s.start, s.end) for s in expected.sessions]
            assert [clock(s.start) for s in status.sessions] == [clock(s.start) for s in template.sessions]
            description = await lab.env.client.get_workflow_handle(workflow_id(result.round_id)).describe()
            assert description.status is WorkflowExecutionStatus.RUNNING
            assert (await description.memo())["template"] == template.id
            assert description.raw_description.workflow_execution_info.parent_execution.workflow_id.startswith(
                f"round-{template.id}-"
            )
            entries = [e for e in lab.store.audit_log(result.round_id) if e.kind == ROUND_CREATED]
            assert len(entries) == 1 and entries[0].by == "engine"
        assert len(set(made)) == 2
        # Each round is its own activity; the template is untouched and was never started.
        assert lab.store.activity(template.id).current_version == 0
        assert [e.kind for e in lab.store.audit_log(template.id)] == [ROUND_CREATED, ROUND_CREATED]
        # The starters ended; the rounds' lifecycles go on without them (parent close policy ABANDON).
        for nominal in (first, second):
            handle = lab.env.client.get_workflow_handle(f"round-{template.id}-{nominal.isoformat()}")
            assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
    finally:
        await end_rounds(lab, monkeypatch, made)


async def test_a_firing_delivered_twice_or_later_the_same_day_makes_one_round(lab, template, monkeypatch):
    nominal = await lab.now() + timedelta(days=30)
    made = []
    try:
        once = await (await fire(lab, template.id, nominal)).result()
        made.append(once.round_id)
        again = await (await fire(lab, template.id, nominal, suffix="-again")).result()
        later = await (await fire(lab, template.id, nominal + timedelta(hours=1))).result()
        assert once.started and not again.started and not later.started
        assert once.round_id == again.round_id == later.round_id
        assert lab.store.latest_plan(once.round_id)[0] == 1  # one plan version: nothing made twice
        assert len([e for e in lab.store.audit_log(once.round_id) if e.kind == ROUND_CREATED]) == 1
    finally:
        await end_rounds(lab, monkeypatch, made)


class DiesAfterSaving(RoundActivities):
    """make_round whose first attempt saves the round and then fails, as a worker killed right after would."""

    attempts = 0

    def _make_round(self, req: RoundRequest):
        made = super()._make_round(req)
        DiesAfterSaving.attempts += 1
        if DiesAfterSaving.attempts == 1:
            raise RuntimeError("the worker went away")
        return made


async def test_a_retried_firing_makes_one_round(lab, template, monkeypatch):
    """The first attempt of make_round saved the round and failed; the retry finds it and the round starts once."""
    nominal = await lab.now() + timedelta(days=30)
    queue = f"tq-{uuid.uuid4()}"
    made = []
    DiesAfterSaving.attempts = 0
    async with Worker(
        lab.env.client,
        task_queue=queue,
        workflows=[RoundStarterWorkflow, ActivityLifecycleWorkflow],  # the round runs on the starter's task queue
        activities=[*DiesAfterSaving(lab.store).all(), *build_activities(lab.store, lab.mailer, lab.settings).all()],
    ):
        try:
            result = await (await fire(lab, template.id, nominal, task_queue=queue)).result()
            made.append(result.round_id)
            assert DiesAfterSaving.attempts == 2
            assert result.started and result.plan_version == 1
            assert lab.store.latest_plan(result.round_id)[0] == 1
            assert lab.store.plan(result.round_id) == round_plan(template, nominal)
        finally:
            await end_rounds(lab, monkeypatch, made)


async def test_a_firing_without_a_template_fails_and_makes_nothing(lab):
    nominal = await lab.now() + timedelta(days=30)
    missing = f"finns-inte-{uuid.uuid4().hex[:8]}"
    handle = await fire(lab, missing, nominal)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert lab.store.latest_plan(round_id(missing, nominal)) is None


async def test_an_activity_of_the_rounds_id_made_by_hand_is_not_taken_for_the_round(lab, template, make_plan):
    nominal = await lab.now() + timedelta(days=30)
    taken = make_plan(await lab.now(), id=round_id(template.id, nominal))
    lab.store.save_plan(taken, False)
    handle = await fire(lab, template.id, nominal)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert lab.store.latest_plan(taken.id)[0] == 1  # left as it was
    with pytest.raises(RPCError):  # and nothing started under its id
        await lab.env.client.get_workflow_handle(workflow_id(taken.id)).describe()


async def test_no_personal_data_in_the_starters_history(lab, template, monkeypatch):
    nominal = await lab.now() + timedelta(days=30)
    handle = await fire(lab, template.id, nominal)
    made = [(await handle.result()).round_id]
    try:
        text = decoded_history(await handle.fetch_history())
        for secret in (template.organiser_email, "O111", "https://meet.test/x"):
            assert secret not in text
        assert template.id in text and made[0] in text  # the check reads the real, decoded payloads
    finally:
        await end_rounds(lab, monkeypatch, made)
