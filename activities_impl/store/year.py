"""The year: each year's action plan (focus areas, lines) and its costs; what the annual report and the back-office
read (`domain.year_outcome` does the sums).

An action plan is saved or replaced whole, in one transaction; replacing it may not drop a line that has costs
booked on it (move or remove those first). Costs are added one by one or imported in one transaction (all rows or
none), each checked against the year's plan (a line) or the store's activities; an import is keyed by the file's
digest, so the same file imported twice is refused instead of counted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from activities_impl.store.engine import StoreBase, StoreError, _schema_lock, utcnow
from domain.action_plan import ActionArea, ActionPlan, ActionPlanLine
from domain.costs import Cost, CostCategory, RecordedCost, YearLines
from domain.plan import ActivityPlan, Problem, action_plan_line_problems, plan_year
from domain.tables import (
    ActionPlanAreaRecord,
    ActionPlanLineRecord,
    ActionPlanRecord,
    Activity,
    ActivityPlanVersion,
    CostRecord,
)


@dataclass(frozen=True)
class SavedActionPlan:
    year: int
    replaced: bool  # an earlier plan for the year was replaced
    areas: int
    lines: int
    budget: int  # kronor


@dataclass(frozen=True)
class ActionPlanSource:
    year: int
    name: str  # the file's name
    text: str  # the plan as YAML
    imported_at: datetime


def batch_key(data: bytes) -> str:
    """The key of an imported file: its SHA-256."""
    return hashlib.sha256(data).hexdigest()


class YearRecords(StoreBase):
    # -- action plans ---------------------------------------------------------------------------------------------
    def save_action_plan(self, plan: ActionPlan, source_text: str, source_name: str = "") -> SavedActionPlan:
        """Store the plan for its year, replacing the one there (its areas and lines), in one transaction.
        StoreError `line_has_costs` when the new plan lacks a line that has costs."""
        with self.session() as s:
            _schema_lock(s.connection())  # one import of a year at a time
            record = s.get(ActionPlanRecord, plan.year)
            if record is not None:
                kept = set(plan.line_ids)
                booked = s.exec(
                    select(CostRecord.line_id)
                    .where(CostRecord.year == plan.year, col(CostRecord.line_id).is_not(None))
                    .distinct()
                )
                dropped = sorted(line for line in booked if line is not None and line not in kept)
                if dropped:
                    raise StoreError(
                        f"the new plan for {plan.year} lacks lines that have costs: {', '.join(dropped)}; "
                        "move or remove those costs first",
                        "line_has_costs",
                    )
                s.execute(delete(ActionPlanLineRecord).where(col(ActionPlanLineRecord.year) == plan.year))
                s.execute(delete(ActionPlanAreaRecord).where(col(ActionPlanAreaRecord.year) == plan.year))
                record.period, record.rate_ore, record.carried_over = plan.period, plan.rate_ore, plan.carried_over
                record.source_name, record.source_text = source_name[:200], source_text
                record.imported_at = utcnow()
                s.add(record)
            else:
                s.add(
                    ActionPlanRecord(
                        year=plan.year,
                        period=plan.period,
                        rate_ore=plan.rate_ore,
                        carried_over=plan.carried_over,
                        source_name=source_name[:200],
                        source_text=source_text,
                    )
                )
            s.flush()
            position = 0
            for area_position, area in enumerate(plan.areas):
                s.add(ActionPlanAreaRecord(year=plan.year, position=area_position, name=area.name, budget=area.budget))
                s.flush()
                for line in area.lines:
                    s.add(
                        ActionPlanLineRecord(
                            year=plan.year,
                            id=line.id,
                            area=area.name,
                            area_position=area_position,
                            what=line.what,
                            how=line.how,
                            budget=line.budget,
                            fee=line.fee,
                            position=position,
                        )
                    )
                    position += 1
            return SavedActionPlan(
                year=plan.year, replaced=record is not None, areas=len(plan.areas), lines=position, budget=plan.budget
            )

    def action_plan(self, year: int) -> ActionPlan | None:
        """The year's plan as stored, or None."""
        with self.session() as s:
            return self._action_plan(s, year)

    def _action_plan(self, s: Session, year: int) -> ActionPlan | None:
        record = s.get(ActionPlanRecord, year)
        if record is None:
            return None
        areas = list(
            s.exec(
                select(ActionPlanAreaRecord)
                .where(ActionPlanAreaRecord.year == year)
                .order_by(col(ActionPlanAreaRecord.position))
            )
        )
        lines = list(
            s.exec(
                select(ActionPlanLineRecord)
                .where(ActionPlanLineRecord.year == year)
                .order_by(col(ActionPlanLineRecord.position))
            )
        )
        rate = Decimal(record.rate_ore).scaleb(-2)
        return ActionPlan(
            year=year,
            period=record.period,
            rate=rate,
            carried_over=record.carried_over,
            areas=[
                ActionArea(
                    name=area.name,
                    budget=area.budget,
                    lines=[
                        ActionPlanLine(id=line.id, what=line.what, how=line.how, budget=line.budget, fee=line.fee)
                        for line in lines
                        if line.area_position == area.position
                    ],
                )
                for area in areas
            ],
        )

    def action_plan_source(self, year: int) -> ActionPlanSource | None:
        """The file the year's plan came from (its name, and the plan as YAML), or None."""
        with self.session() as s:
            record = s.get(ActionPlanRecord, year)
            if record is None:
                return None
            return ActionPlanSource(record.year, record.source_name, record.source_text, record.imported_at)

    def action_plan_years(self) -> list[int]:
        with self.session() as s:
            return list(s.exec(select(ActionPlanRecord.year).order_by(col(ActionPlanRecord.year))))

    def remove_action_plan(self, year: int) -> None:
        """Remove the year's plan; StoreError `no_action_plan`, or `line_has_costs` while costs are booked on it."""
        with self.session() as s:
            _schema_lock(s.connection())
            if s.get(ActionPlanRecord, year) is None:
                raise StoreError(f"there is no action plan for {year}", "no_action_plan")
            on_lines = s.exec(
                select(func.count())
                .select_from(CostRecord)
                .where(CostRecord.year == year, col(CostRecord.line_id).is_not(None))
            ).one()
            if on_lines:
                raise StoreError(f"{on_lines} costs are booked on the lines of {year}", "line_has_costs")
            s.execute(delete(ActionPlanLineRecord).where(col(ActionPlanLineRecord.year) == year))
            s.execute(delete(ActionPlanAreaRecord).where(col(ActionPlanAreaRecord.year) == year))
            s.execute(delete(ActionPlanRecord).where(col(ActionPlanRecord.year) == year))

    def year_lines(self) -> dict[int, YearLines]:
        """Every year's plan lines (id -> what): what a cost file may name (`domain.costs.parse_costs`)."""
        with self.session() as s:
            out: dict[int, dict[str, str]] = {}
            for line in s.exec(select(ActionPlanLineRecord).order_by(col(ActionPlanLineRecord.position))):
                out.setdefault(line.year, {})[line.id] = line.what
            return {year: YearLines(year, whats) for year, whats in out.items()}

    def action_plan_line_problems(self, plan: ActivityPlan) -> list[Problem]:
        """The activity plan's `action_plan_line` checked against the stored plan of its year (none stored, or no
        line named: no problems)."""
        if plan.action_plan_line is None:
            return []
        return action_plan_line_problems(plan, self.action_plan(plan_year(plan)))

    def activity_lines(self, year: int) -> dict[str, str | None]:
        """The activities of `year` (by their current plan's first session, `domain.plan.plan_year`) and the line
        each names (None: outside the plan). Drafts never started (no current plan) are left out."""
        with self.session() as s:
            rows = s.exec(
                select(ActivityPlanVersion)
                .join(Activity, col(Activity.id) == ActivityPlanVersion.activity_id)
                .where(col(Activity.current_version) == ActivityPlanVersion.version, col(Activity.current_version) > 0)
            )
            out: dict[str, str | None] = {}
            for row in rows:
                plan = ActivityPlan.model_validate_json(row.plan_json)
                if plan_year(plan) == year:
                    out[plan.id] = plan.action_plan_line
            return dict(sorted(out.items()))

    # -- costs ----------------------------------------------------------------------------------------------------
    def add_cost(self, cost: Cost) -> RecordedCost:
        """Record a cost; StoreError `no_action_plan`, `unknown_line` or `unknown_activity` when its target is not
        there."""
        with self.session() as s:
            _schema_lock(s.connection())  # the plan's lines stay as checked until the cost is written
            record = self._add_cost(s, cost, None)
            s.flush()
            return _recorded(record)

    def import_costs(self, costs: Sequence[Cost], data: bytes) -> list[RecordedCost]:
        """Record the costs of an imported file, all or none, keyed by the file's digest; StoreError
        `already_imported` when that file was imported before, or as `add_cost` for a cost (none is recorded)."""
        batch = batch_key(data)
        with self.session() as s:
            _schema_lock(s.connection())
            if s.exec(select(CostRecord.id).where(CostRecord.batch == batch).limit(1)).first() is not None:
                raise StoreError("this file has been imported already", "already_imported")
            records = [self._add_cost(s, cost, batch) for cost in costs]
            s.flush()
            return [_recorded(record) for record in records]

    def _add_cost(self, s: Session, cost: Cost, batch: str | None) -> CostRecord:
        if cost.line_id is not None:
            if s.get(ActionPlanRecord, cost.year) is None:
                raise StoreError(f"there is no action plan for {cost.year}", "no_action_plan")
            if s.get(ActionPlanLineRecord, (cost.year, cost.line_id)) is None:
                raise StoreError(f"the action plan for {cost.year} has no line {cost.line_id!r}", "unknown_line")
        if cost.activity_id is not None and s.get(Activity, cost.activity_id) is None:
            raise StoreError(f"no activity {cost.activity_id!r}", "unknown_activity")
        record = CostRecord(
            year=cost.year,
            line_id=cost.line_id,
            activity_id=cost.activity_id,
            amount_ore=cost.amount_ore,
            cost_date=cost.date,
            category=cost.category.value,
            note=cost.note,
            batch=batch,
        )
        s.add(record)
        return record

    def costs(self, year: int, line_id: str | None = None, activity_id: str | None = None) -> list[RecordedCost]:
        """The year's costs (or those on one line, or one activity), by date."""
        with self.session() as s:
            query = select(CostRecord).where(CostRecord.year == year)
            if line_id is not None:
                query = query.where(CostRecord.line_id == line_id)
            if activity_id is not None:
                query = query.where(CostRecord.activity_id == activity_id)
            return [_recorded(r) for r in s.exec(query.order_by(col(CostRecord.cost_date), col(CostRecord.id)))]

    def cost(self, cost_id: int) -> RecordedCost | None:
        with self.session() as s:
            record = s.get(CostRecord, cost_id)
            return _recorded(record) if record is not None else None

    def remove_cost(self, cost_id: int) -> RecordedCost:
        """Remove a cost and return it; StoreError `unknown_cost`."""
        with self.session() as s:
            record = s.get(CostRecord, cost_id)
            if record is None:
                raise StoreError(f"no cost {cost_id}", "unknown_cost")
            removed = _recorded(record)
            s.delete(record)
            return removed


def _recorded(record: CostRecord) -> RecordedCost:
    assert record.id is not None  # flushed
    return RecordedCost(
        id=record.id,
        batch=record.batch,
        year=record.year,
        line_id=record.line_id,
        activity_id=record.activity_id,
        amount_ore=record.amount_ore,
        date=record.cost_date,
        category=CostCategory(record.category),
        note=record.note,
    )
