"""The round starter's activity: make a round of a template in the store, once per nominal time.

`make_round` reads the template's latest plan, makes the round's plan (`domain.rounds.round_plan`) and saves it as
the round's first version, made current (as starting an activity does). It is idempotent: the round's id comes from
the template and the nominal time, and a retry (or a second firing for the same time) finds the round already made
and returns it unchanged. Before saving, it writes an audit entry keyed by the round's id that names the template:
the mark that the round is this schedule's, so an activity of that id made by hand is never taken for a round.

Input that can never succeed (no template, a template that no longer validates, a round id taken by another
activity, dates that do not make a valid plan) fails as non-retryable: the starter workflow fails, and the schedule,
which pauses on failure, waits for a coordinator.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import activity

from activities_impl.permanent import permanent_failures
from activities_impl.store import Store, StoreError, utcnow
from domain.plan import plan_problems
from domain.rounds import RoundMade, RoundRequest, round_id, round_plan
from domain.texts import when

ROUND_ACTIVITY = "__runflow_round_activity__"
ROUND_CREATED = "round_created"  # the audit entry's kind, on the round and on its template
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def round_activity(fn: F) -> F:
    """An activity named after the method, non-retryable on input that can never succeed (`permanent_failures`)."""
    defined = activity.defn(name=fn.__name__)(permanent_failures(fn))
    setattr(defined, ROUND_ACTIVITY, True)
    return defined


def round_mark(round_id: str) -> str:
    """The audit key that marks an activity as a round made by a schedule."""
    return f"round:{round_id}"


class RoundActivities:
    def __init__(self, store: Store):
        self.store = store

    @round_activity
    async def make_round(self, req: RoundRequest) -> RoundMade:
        return await asyncio.to_thread(self._make_round, req)

    def _make_round(self, req: RoundRequest) -> RoundMade:
        rid = round_id(req.template_id, req.nominal_time)
        existing = self.store.latest_plan(rid)
        if existing is not None:
            made_by = self._made_from(rid)
            if made_by != req.template_id:
                raise StoreError(f"the round's id {rid!r} belongs to an activity not made from {req.template_id!r}")
            version, plan = existing
            activity_row = self.store.activity(rid)
            if activity_row is not None and activity_row.current_version != version:
                self.store.make_current(rid, version)  # an attempt that stopped between saving and this
            return RoundMade(round_id=rid, plan=plan.lifecycle(version), format=plan.format.value, created=False)
        found = self.store.latest_plan(req.template_id)
        if found is None:
            raise StoreError(f"no template {req.template_id!r}: the store has no plan for it")
        _, template = found
        plan = round_plan(template, req.nominal_time)  # a ValidationError when the dates make no valid plan
        problems = plan_problems(plan)
        if problems:
            raise StoreError(f"the round's plan is not valid: {'; '.join(map(str, problems))}")
        at = utcnow()
        details = {"template_id": req.template_id, "nominal_time": req.nominal_time.isoformat()}
        self.store.audit(
            key=round_mark(rid),
            activity_id=rid,
            at=at,
            kind=ROUND_CREATED,
            by="engine",
            reason=f"Ny omgång av {req.template_id} enligt schemat ({when(req.nominal_time)})",
            details=details,
        )
        version = self.store.save_plan(plan, True)
        self.store.audit(
            key=f"{round_mark(rid)}:template",
            activity_id=req.template_id,
            at=at,
            kind=ROUND_CREATED,
            by="engine",
            reason=f"Ny omgång {rid} enligt schemat ({when(req.nominal_time)})",
            details={**details, "round_id": rid},
        )
        return RoundMade(round_id=rid, plan=plan.lifecycle(version), format=plan.format.value, created=True)

    def _made_from(self, rid: str) -> str | None:
        """The template the round was made from, by its mark; None when no schedule made it."""
        for entry in self.store.audit_log(rid):
            if entry.key == round_mark(rid):
                template = json.loads(entry.details_json).get("template_id")
                return template if isinstance(template, str) else None
        return None

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, bound: what the worker registers."""
        return [
            getattr(self, name)
            for name, member in inspect.getmembers(type(self))
            if getattr(member, ROUND_ACTIVITY, False)
        ]
