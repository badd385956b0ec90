"""The store's engine, schema and session; errors the store raises."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

from domain.tables import (
    Contact,
    Organisation,
)
from migrations import head_revisions

if TYPE_CHECKING:
    from domain.reference import ReferenceData

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
SCHEMA_LOCK_KEY = 0x72756E66  # "runf"


class ClaimHeld(Exception):
    """Another attempt holds a fresh claim on an outbox message."""


class StoreError(Exception):
    """A refusal by the store, with a reason for people and a `code` for programs."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.code = code


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(  # pragma: no cover - wiring
            dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                # WAL is a property of the file: whoever gets there first switches it for everyone; an error means
                # another process holds the lock, switching it right now.
                with contextlib.suppress(sqlite3.OperationalError):
                    cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)  # errors never quote names or addresses


def _schema_lock(connection: Connection) -> None:
    """Make the transaction exclusive from its start, until it ends: PostgreSQL waits for the advisory lock
    SCHEMA_LOCK_KEY; SQLite for its write lock (`BEGIN IMMEDIATE`, within the busy timeout)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None  # None only once invalidated; `connection` is checked out and in use
        if not dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the store is at (Alembic's version table; none in an empty database)."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


class StoreBase:
    """The engine and the session: one transaction per business operation (`with self.session() as s`)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision. A store already there (every start of a worker but the
        first after a release) is left as it is without importing Alembic, which a worker would otherwise carry
        (~10 MiB) for nothing."""
        with self.engine.begin() as connection:
            _schema_lock(connection)
            if _current_revisions(connection) == head_revisions():
                return
            from alembic import command

            from migrations import alembic_config

            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def seed_reference(self, reference: ReferenceData) -> None:
        """Adds the organisations the store lacks, with their contacts from the file. An organisation already in
        place keeps the contacts the coordinators gave it: one they removed does not come back at the next start."""
        with self.session() as s:
            _schema_lock(s.connection())
            created: set[str] = set()
            for org in reference.organisations:
                if s.get(Organisation, org.id) is None:
                    s.add(
                        Organisation(
                            id=org.id, name=org.name, short_name=org.short_name, kind=org.kind.value, region=org.region
                        )
                    )
                    created.add(org.id)
            s.flush()
            for c in reference.contacts:
                if c.organisation in created:
                    s.add(
                        Contact(organisation_id=c.organisation, target_group=c.target_group, name=c.name, email=c.email)
                    )

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
