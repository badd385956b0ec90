"""The replay gate: committed histories of every lifecycle branch (and of the round starter's) must replay with
today's workflow code.

A failure here means a change to ActivityLifecycleWorkflow would break running activities: put the change
behind `workflow.patched(...)` (README: "Changing the workflow safely") instead of re-recording.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker.converter import build_data_converter
from workflows.activity_lifecycle import ActivityLifecycleWorkflow
from workflows.round_starter import RoundStarterWorkflow

# One directory per release of the workflow code, in order (`make record-histories RELEASE=<n>-<what changed>`): each
# holds every branch as that release recorded it. Released directories are never re-recorded, only added to.
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


def releases() -> list[Path]:
    return sorted(p for p in HISTORIES.iterdir() if p.is_dir())


def histories() -> list[Path]:
    return sorted(HISTORIES.glob("*/*.json"))


@pytest.mark.parametrize("release", releases(), ids=lambda p: p.name)
def test_every_branch_has_a_committed_history(release: Path):
    recorded = {p.stem for p in release.glob("*.json")}
    missing = {branch: name for branch, name in BRANCHES.items() if name not in recorded}
    assert not missing, f"record them with `make record-histories RELEASE={release.name}`: {missing}"


def test_the_latest_release_is_recorded_with_every_patch_taken():
    """The newest histories are those of today's code: each patch the workflow asks is taken in one of them."""
    source = (Path(__file__).parents[2] / "workflows" / "activity_lifecycle.py").read_text()
    constants = dict(re.findall(r'^([A-Z_]+) = "([a-z0-9-]+)"$', source, re.MULTILINE))
    patches = {constants[name] for name in re.findall(r"workflow\.patched\(([A-Z_]+)\)", source)}
    assert patches, "no patch found: has the way patches are named changed?"
    taken = {patch for path in releases()[-1].glob("*.json") for patch in patches_taken(path)}
    assert patches <= taken, f"record a new release directory: {sorted(patches - taken)} never taken"


def patches_taken(path: Path) -> set[str]:
    """The ids of the patches a recorded history took (its `core_patch` markers)."""
    ids = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                ids.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return ids


@pytest.mark.parametrize("path", histories(), ids=lambda p: f"{p.parent.name.partition('-')[0]}:{p.stem}")
async def test_history_replays(path: Path):
    data = json.loads(path.read_text())
    workflow_id = data["events"][0]["workflowExecutionStartedEventAttributes"].get("workflowId", path.stem)
    history = WorkflowHistory.from_json(workflow_id, data)
    replayer = Replayer(
        workflows=[ActivityLifecycleWorkflow, RoundStarterWorkflow], data_converter=build_data_converter()
    )
    await replayer.replay_workflow(history)
