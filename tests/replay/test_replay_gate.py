"""The replay gate: committed histories of every lifecycle branch (and of the round starter's) must replay with
today's workflow code.

A failure here means a change to ActivityLifecycleWorkflow would break running activities: put the change
behind `workflow.patched(...)` (README: "Changing the workflow safely") instead of re-recording.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker.converter import build_data_converter
from workflows.activity_lifecycle import ActivityLifecycleWorkflow
from workflows.round_starter import RoundStarterWorkflow

HISTORIES = Path(__file__).parent / "histories"
BRANCHES = {  # lifecycle branch -> the recorded test that covers it
    "run": "run_branch_goes_through_every_phase_to_anonymised",
    "cancel on low enrolment": "low_enrolment_is_cancelled_by_itself_after_the_grace_period",
    "override run": "coordinator_override_run_or_cancel-run",
    "override cancel": "coordinator_override_run_or_cancel-cancel",
    "extend": "coordinator_extends_the_deadline_and_enrolment_then_suffices",
    "postpone": "postpone_during_deciding_carries_registrations_over_and_reopens",
    "waiting list": "waiting_list_fifo_and_promotion_on_withdrawal",
    "withdrawal": "withdrawal_and_refusals_leave_nothing_half_written",
    "survey reminder and follow-up": "survey_reminder_goes_only_to_non_responders_and_follow_up_to_attendees",
    "anonymisation": "anonymisation_erases_people_and_keeps_counts",
    "continue-as-new (first run)": "continue_as_new_with_a_lowered_threshold_keeps_state",
    "continue-as-new (carried state)": "continue_as_new_with_a_lowered_threshold_keeps_state-run2",
    "decision by a member of staff": "the_coordinators_decision_names_who_decided",
    "attendance by participant id": "attendance_by_participant_id_names_who_ticked_the_boxes",
    "messages to segments": "each_segment_reaches_exactly_its_people",
    "message refused while anonymising": "messages_are_refused_once_anonymisation_begins",
    # RoundStarterWorkflow (tests/workflows/test_round_starter.py)
    "round made and started": "two_firings_make_two_rounds_with_their_own_dates-1",
    "round already started": "a_firing_delivered_twice_or_later_the_same_day_makes_one_round-2",
    "round made by a retried activity": "a_retried_firing_makes_one_round",
    "round without a template": "a_firing_without_a_template_fails_and_makes_nothing",
}


def histories() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_every_branch_has_a_committed_history():
    recorded = {p.stem for p in histories()}
    missing = {branch: name for branch, name in BRANCHES.items() if name not in recorded}
    assert not missing, f"record them with `make record-histories`: {missing}"


@pytest.mark.parametrize("path", histories(), ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    data = json.loads(path.read_text())
    workflow_id = data["events"][0]["workflowExecutionStartedEventAttributes"].get("workflowId", path.stem)
    history = WorkflowHistory.from_json(workflow_id, data)
    replayer = Replayer(
        workflows=[ActivityLifecycleWorkflow, RoundStarterWorkflow], data_converter=build_data_converter()
    )
    await replayer.replay_workflow(history)
