"""The Alembic migration: creates exactly the models' schema, is re-runnable, and downgrades cleanly."""

from __future__ import annotations

from datetime import UTC

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select

import domain.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from activities_impl.store import Store
from domain.reference import default_reference
from migrations import alembic_config, head_revisions

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def tables(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}


def revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def downgrade(store: Store, target: str) -> None:
    config = alembic_config(store.url)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, target)


def test_upgrade_creates_every_model_table(database_url):
    store = Store(database_url)  # an empty database, on SQLite and on PostgreSQL
    assert tables(store) == set()
    store.migrate()
    assert tables(store) == set(SQLModel.metadata.tables)
    assert revision(store) == HEAD


def test_the_heads_read_from_the_files_are_alembic_s():
    # Store.migrate compares them with the store's version and imports Alembic only when they differ.
    assert head_revisions() == set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def test_migrate_twice_is_a_noop(store):
    before = [(o.id, o.name) for o in store.organisations()]
    store.migrate()
    assert revision(store) == HEAD
    assert [(o.id, o.name) for o in store.organisations()] == before
    with store.engine.connect() as connection:
        assert connection.execute(text("select count(*) from alembic_version")).scalar() == 1


def test_migration_matches_the_models(store):
    # Types are compared too (compare_type is on by default), by their compiled DDL. The time columns are
    # `UTCDateTime` in the models and `sa.DateTime(timezone=True)` in the migration; the TypeDecorator compiles
    # to its impl, so they match and nothing is filtered. Should a future Alembic report them, filter only
    # ("modify_type", ...) entries whose model type is UTCDateTime over a DateTime column, nothing broader.
    with store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diffs == []


def test_downgrade_to_base_and_upgrade_again(store):
    downgrade(store, "base")
    assert tables(store) == set()
    assert revision(store) is None
    store.migrate()
    assert tables(store) == set(SQLModel.metadata.tables)
    store.seed_reference(default_reference())
    assert {o.id for o in store.organisations()} == default_reference().organisation_ids


def test_upgrade_from_the_previous_revision_keeps_the_data(store, tmp_path):
    from domain.plan import load_plan

    plan = load_plan("examples/lasa-skriva.yaml", default_reference())
    store.save_plan(plan, make_current=True)
    pid = store.upsert_participant(plan.id, name="Anna", email="anna@skola.test", organisation_id="berg", role="lärare")
    previous = ScriptDirectory.from_config(alembic_config(store.url)).get_revision(HEAD).down_revision
    downgrade(store, previous)
    assert revision(store) == previous
    store.migrate()
    assert revision(store) == HEAD
    assert store.participant_by_email(plan.id, "anna@skola.test").id == pid
    store.set_team_members(pid, ["Anna", "Bo"])  # the new revision's table works
    assert store.team_members(pid) == ["Anna", "Bo"]


def test_upgrade_to_0003_cuts_existing_answer_times_to_the_day(store):
    """Answers stored before 0003 carry their invitation's exact instant; the upgrade cuts both to the day."""
    from datetime import datetime

    from domain.plan import load_plan
    from domain.tables import SurveyAnswer, SurveyInvitation

    plan = load_plan("examples/lasa-skriva.yaml", default_reference())
    store.save_plan(plan, make_current=True)
    pid = store.upsert_participant(plan.id, name="Anna", email="anna@skola.test", organisation_id="berg", role="lärare")
    downgrade(store, "0002")
    at = datetime(2027, 10, 1, 13, 37, 21, 123456, tzinfo=UTC)
    with store.engine.begin() as connection:  # rows as the old code wrote them, through the 0002 schema
        connection.execute(
            SurveyInvitation.__table__.insert().values(
                activity_id=plan.id,
                survey="s1",
                participant_id=pid,
                token="t" * 32,
                sent_at=at,
                closes_at=at,
                answered_at=at,
                closed=False,
            )
        )
        connection.execute(
            SurveyAnswer.__table__.insert().values(
                activity_id=plan.id,
                survey="s1",
                organisation_id="berg",
                role="lärare",
                answers_json="{}",
                created_at=at,
            )
        )
    store.migrate()
    day = datetime(2027, 10, 1, tzinfo=UTC)
    assert store.invitation_by_token("t" * 32).answered_at == day
    assert [a.created_at for a in store.survey_answers(plan.id)] == [day]


_MIGRATE_AND_SEED = """
import sys, time
from activities_impl.store import Store
from domain.reference import default_reference
store = Store(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together, as workers started at once do
store.migrate()
store.seed_reference(default_reference())
"""


def test_workers_starting_together_migrate_and_seed_once(database_url):
    """Every worker migrates and seeds at start: on an empty database they take turns instead of failing."""
    import subprocess
    import sys
    import time

    from domain.tables import Contact, Organisation

    start = str(time.time() + 3)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AND_SEED, database_url, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], "\n".join(outputs)
    store = Store(database_url)
    assert revision(store) == HEAD
    reference = default_reference()
    with store.session() as s:
        assert len(list(s.exec(select(Organisation)))) == len(reference.organisations)
        assert len(list(s.exec(select(Contact)))) == len(reference.contacts)  # no contact seeded twice
    store.engine.dispose()
