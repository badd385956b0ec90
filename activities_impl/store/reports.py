"""The final report of an activity, saved once."""

from __future__ import annotations

from sqlmodel import select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase
from domain.tables import (
    Report,
)


class Reports(StoreBase):
    def save_report(self, report: Report) -> Report:
        with self.session() as s:
            row = s.exec(select(Report).where(Report.activity_id == report.activity_id)).first()
            if row is None:
                s.add(report)
                row = report
            return row

    def report(self, activity_id: str) -> Report | None:
        with self.session() as s:
            return s.exec(select(Report).where(Report.activity_id == activity_id)).first()
