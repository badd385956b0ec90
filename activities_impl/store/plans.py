"""Activities and their plan versions."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase, StoreError
from domain.plan import ActivityPlan
from domain.tables import (
    Activity,
    ActivityPlanVersion,
    ActivitySession,
)


class Plans(StoreBase):
    def save_plan(self, plan: ActivityPlan, make_current: bool) -> int:
        """Store a plan as the activity's next version; returns the version number."""
        with self.session() as s:
            activity = s.get(Activity, plan.id)
            if activity is None:
                activity = Activity(
                    id=plan.id,
                    title=plan.title,
                    focus_area=plan.focus_area,
                    format=plan.format.value,
                    organiser_email=plan.organiser_email,
                )
                s.add(activity)
                s.flush()
            latest = (
                s.exec(
                    select(func.max(ActivityPlanVersion.version)).where(ActivityPlanVersion.activity_id == plan.id)
                ).one()
                or 0
            )
            version = latest + 1
            s.add(ActivityPlanVersion(activity_id=plan.id, version=version, plan_json=plan.model_dump_json()))
            if make_current:
                self._make_current(s, activity, plan, version)
            return version

    def make_current(self, activity_id: str, version: int) -> None:
        with self.session() as s:
            activity = s.get(Activity, activity_id)
            if activity is None:
                raise StoreError(f"unknown activity {activity_id!r}")
            if activity.current_version != version:
                self._make_current(s, activity, self._plan(s, activity_id, version), version)

    def _make_current(self, s: Session, activity: Activity, plan: ActivityPlan, version: int) -> None:
        activity.current_version = version
        activity.title = plan.title
        activity.focus_area = plan.focus_area
        activity.organiser_email = plan.organiser_email
        s.add(activity)
        for no, sp in enumerate(plan.sessions, start=1):
            s.add(
                ActivitySession(
                    activity_id=plan.id,
                    plan_version=version,
                    session_no=no,
                    start=sp.start,
                    end=sp.end,
                    location=sp.location.value,
                    room=sp.room,
                    link=sp.link,
                )
            )

    def activity(self, activity_id: str) -> Activity | None:
        with self.session() as s:
            return s.get(Activity, activity_id)

    def activities(self) -> list[Activity]:
        with self.session() as s:
            return list(s.exec(select(Activity).order_by(col(Activity.created_at))))

    def plan(self, activity_id: str, version: int | None = None) -> ActivityPlan:
        with self.session() as s:
            if version is None:
                activity = s.get(Activity, activity_id)
                if activity is None:
                    raise StoreError(f"unknown activity {activity_id!r}")
                version = activity.current_version
            return self._plan(s, activity_id, version)

    def latest_plan(self, activity_id: str) -> tuple[int, ActivityPlan] | None:
        """The activity's most recent plan version (saved but perhaps not current yet) and its number; None when the
        store has no plan for it."""
        with self.session() as s:
            row = s.exec(
                select(ActivityPlanVersion)
                .where(ActivityPlanVersion.activity_id == activity_id)
                .order_by(col(ActivityPlanVersion.version).desc())
                .limit(1)
            ).first()
            return (row.version, ActivityPlan.model_validate_json(row.plan_json)) if row is not None else None

    def _plan(self, s: Session, activity_id: str, version: int) -> ActivityPlan:
        row = s.exec(
            select(ActivityPlanVersion).where(
                ActivityPlanVersion.activity_id == activity_id, ActivityPlanVersion.version == version
            )
        ).first()
        if row is None:
            raise StoreError(f"no plan version {version} for activity {activity_id!r}")
        return ActivityPlan.model_validate_json(row.plan_json)
