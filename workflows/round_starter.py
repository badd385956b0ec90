"""RoundStarterWorkflow: one firing of a template's schedule makes one round and starts its lifecycle.

    schedule rounds-<template> ──fires at T──► round-<template>-<T>: make_round(template, T) ──► activity-<round>

Started by the template's Temporal Schedule (`api.schedules`), whose action passes the template's id only: the
nominal time T is the schedule's, read from the search attribute it sets on every workflow it starts
(TemporalScheduledStartTime); tests and the odd manual start pass it in the input.

The round is made by an activity (`make_round`, idempotent by the round's id) and its lifecycle started as a child
workflow that outlives this one (parent close policy ABANDON), with the id `activity-<round>` and REJECT_DUPLICATE:
a round already started (a retried or re-fired firing, or a coordinator who started it by hand) is success, never a
second lifecycle. The input, the activity's arguments and the result carry ids and times only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    # The activity's class, for a typed call by method (its module's I/O is never used here).
    from activities_impl.round_activities import RoundActivities
    from domain.rounds import RoundRequest, RoundStarted, RoundStarterInput
    from domain.state import LifecycleInput
    from workflows import search_attributes as sa
    from workflows.activity_lifecycle import ActivityLifecycleWorkflow, workflow_id

# Set by the server on every workflow a schedule starts: the time the action was due (before jitter).
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
MAKE_ROUND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=2)
)
MAKE_ROUND_TIMEOUT = timedelta(seconds=45)  # a few rows in the store


def nominal_time(input: RoundStarterInput) -> datetime:
    """The firing's time: the input's, else the schedule's; a start with neither cannot say which round it is."""
    if input.nominal_time is not None:
        return input.nominal_time
    scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME)
    if scheduled is None:
        raise ApplicationError(
            "no nominal time: start it from the template's schedule or pass nominal_time", non_retryable=True
        )
    return scheduled


@workflow.defn
class RoundStarterWorkflow:
    @workflow.run
    async def run(self, input: RoundStarterInput) -> RoundStarted:
        nominal = nominal_time(input)
        made = await workflow.execute_activity_method(
            RoundActivities.make_round,
            RoundRequest(template_id=input.template_id, nominal_time=nominal),
            start_to_close_timeout=MAKE_ROUND_TIMEOUT,
            retry_policy=MAKE_ROUND_RETRY,
            summary=f"make_round {input.template_id}",
        )
        plan = made.plan
        try:
            await workflow.start_child_workflow(
                ActivityLifecycleWorkflow.run,
                LifecycleInput(plan=plan),
                id=workflow_id(made.round_id),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,  # the round lives on after this firing
                memo={"title": plan.title, "format": made.format, "template": input.template_id},
                search_attributes=sa.at_start(
                    focus_area=plan.focus_area,
                    first_session_start=plan.first_start,
                    below_minimum=plan.min_participants > 0,
                ),
                static_summary=f"{plan.title} ({made.round_id})",
            )
            started = True
        except WorkflowAlreadyStartedError:
            workflow.logger.info("Round %s was already started", made.round_id)
            started = False
        return RoundStarted(
            template_id=input.template_id,
            round_id=made.round_id,
            nominal_time=nominal,
            plan_version=plan.version,
            started=started,
        )
