"""make_round: a round of a template made in the store once per nominal time, marked as the schedule's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities_impl.permanent import PERMANENT_FAILURE
from activities_impl.round_activities import ROUND_CREATED, RoundActivities, round_mark
from domain.rounds import RoundRequest, round_id, round_plan
from tests.support.plans import plan_at

NOMINAL = datetime(2028, 1, 17, 7, 0, tzinfo=UTC)


@pytest.fixture
def template(store):
    plan = plan_at(datetime(2027, 8, 16, 6, 0, tzinfo=UTC), id="natverk-specped", title="Nätverk för specialpedagoger")
    store.save_plan(plan, False)
    return plan


async def test_a_round_is_made_once_and_found_again_by_a_retry(store, template):
    rounds = RoundActivities(store)
    request = RoundRequest(template_id=template.id, nominal_time=NOMINAL)
    first = await rounds.make_round(request)
    again = await rounds.make_round(request)
    assert first.created and not again.created
    assert first.round_id == again.round_id == round_id(template.id, NOMINAL) == "natverk-specped-20280117"
    assert first.plan == again.plan and first.plan.version == 1 and first.format == template.format.value
    assert store.latest_plan(first.round_id) == (1, round_plan(template, NOMINAL))
    assert store.activity(first.round_id).current_version == 1  # current: the version its lifecycle runs
    [mark] = [e for e in store.audit_log(first.round_id) if e.kind == ROUND_CREATED]
    assert mark.key == round_mark(first.round_id) and mark.by == "engine" and "natverk-specped" in mark.reason
    assert [e.kind for e in store.audit_log(template.id)] == [ROUND_CREATED]
    # What crosses Temporal is the lifecycle plan: no organiser address, rooms or links.
    assert template.organiser_email not in first.model_dump_json() and "O111" not in first.model_dump_json()


async def test_an_attempt_that_stopped_after_marking_is_completed_by_the_next(store, template):
    rid = round_id(template.id, NOMINAL)
    store.audit(
        key=round_mark(rid),
        activity_id=rid,
        at=datetime.now(UTC),
        kind=ROUND_CREATED,
        by="engine",
        reason="",
        details={"template_id": template.id},
    )
    made = await RoundActivities(store).make_round(RoundRequest(template_id=template.id, nominal_time=NOMINAL))
    assert made.created and store.latest_plan(rid)[0] == 1


async def test_rounds_follow_the_templates_latest_version(store, template):
    rounds = RoundActivities(store)
    first = await rounds.make_round(RoundRequest(template_id=template.id, nominal_time=NOMINAL))
    store.save_plan(template.model_copy(update={"places": 60}), False)  # the template edited after the first round
    later = NOMINAL + timedelta(weeks=26)
    second = await rounds.make_round(RoundRequest(template_id=template.id, nominal_time=later))
    assert (first.plan.places, second.plan.places) == (template.places, 60)
    assert store.plan(first.round_id).places == template.places  # a round already made keeps its plan


async def test_what_can_never_succeed_is_not_retried(store, template):
    rounds = RoundActivities(store)
    with pytest.raises(ApplicationError) as missing:
        await rounds.make_round(RoundRequest(template_id="finns-inte", nominal_time=NOMINAL))
    assert missing.value.type == PERMANENT_FAILURE and missing.value.non_retryable
    taken = plan_at(datetime(2027, 8, 16, 6, 0, tzinfo=UTC), id=round_id(template.id, NOMINAL))
    store.save_plan(taken, False)  # an activity made by hand with the round's id
    with pytest.raises(ApplicationError) as clash:
        await rounds.make_round(RoundRequest(template_id=template.id, nominal_time=NOMINAL))
    assert clash.value.type == PERMANENT_FAILURE
    assert store.latest_plan(taken.id) == (1, taken)
