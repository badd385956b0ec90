"""the year: action plans (focus areas, lines with budgets and fees) and costs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'action_plan',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('rate_ore', sa.Integer(), nullable=False),
        sa.Column('carried_over', sa.Integer(), nullable=False),
        sa.Column('source_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('source_text', sa.Text(), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    op.create_table(
        'action_plan_area',
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('budget', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['year'], ['action_plan.year']),
        sa.PrimaryKeyConstraint('year', 'position'),
        sa.UniqueConstraint('year', 'name'),
    )
    op.create_table(
        'action_plan_line',
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('area', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('area_position', sa.Integer(), nullable=False),
        sa.Column('what', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('how', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('budget', sa.Integer(), nullable=False),
        sa.Column('fee', sa.Integer(), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['year', 'area_position'],
            ['action_plan_area.year', 'action_plan_area.position'],
            name='fk_line_area',
        ),
        sa.ForeignKeyConstraint(['year'], ['action_plan.year']),
        sa.PrimaryKeyConstraint('year', 'id'),
    )
    op.create_table(
        'cost',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('line_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('activity_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('amount_ore', sa.BigInteger(), nullable=False),
        sa.Column('cost_date', sa.Date(), nullable=False),
        sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('batch', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('cost', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cost_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cost_batch'), ['batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_cost_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cost', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cost_year'))
        batch_op.drop_index(batch_op.f('ix_cost_batch'))
        batch_op.drop_index(batch_op.f('ix_cost_activity_id'))
    op.drop_table('cost')
    op.drop_table('action_plan_line')
    op.drop_table('action_plan_area')
    op.drop_table('action_plan')
