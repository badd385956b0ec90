"""coordinator messages: what a coordinator wrote to a segment of an activity (the workflow sees only the id)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'coordinator_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('segment', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('staff_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('coordinator_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coordinator_message_activity_id'), ['activity_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coordinator_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coordinator_message_activity_id'))
    op.drop_table('coordinator_message')
