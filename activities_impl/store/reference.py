"""Organisations and the contacts invitations go to."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase
from domain.tables import (
    Contact,
    Organisation,
)


class References(StoreBase):
    def organisations(self) -> list[Organisation]:
        with self.session() as s:
            return list(s.exec(select(Organisation).order_by(col(Organisation.kind).desc(), col(Organisation.name))))

    def organisation_ids(self) -> set[str]:
        with self.session() as s:
            return set(s.exec(select(Organisation.id)))

    def contacts(self, organisation_ids: Iterable[str], target_groups: Iterable[str]) -> list[Contact]:
        orgs, groups = list(organisation_ids), list(target_groups)
        with self.session() as s:
            rows = s.exec(select(Contact).where(col(Contact.organisation_id).in_(orgs)).order_by(col(Contact.id)))
            return [c for c in rows if c.target_group is None or c.target_group in groups]
