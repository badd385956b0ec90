"""outbox: undeliverable messages keep the reason (status 'failed'); survey times to the day

Answers and their invitations stored before this revision carry the same instant, which ties an answer to its
person: both are cut to the day (UTC), as new answers are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:40:00
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    bind = op.get_bind()
    for table, column in (("survey_answer", "created_at"), ("survey_invitation", "answered_at")):
        rows = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.DateTime(timezone=True)))
        for row_id, at in bind.execute(sa.select(rows.c.id, rows.c[column]).where(rows.c[column].is_not(None))):
            if isinstance(at, str):  # SQLite gives the stored text back
                at = datetime.fromisoformat(at)
            at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
            day = at.replace(hour=0, minute=0, second=0, microsecond=0)
            bind.execute(rows.update().where(rows.c.id == row_id).values({column: day}))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('error')
