"""counters as metrics: a store's volatile counters (downloads, likes, stars...) kept apart from versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

- `model_metrics`: (model, metric, run) -> value, a row only when a run saw the counter move (or first saw it).
- `latest_metrics`: each model's latest value of each counter, so the writer compares a whole run's counters
  with one join instead of a lookup per row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'model_metrics',
        sa.Column('model_pk', sa.Integer(), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('value', sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(['model_pk'], ['models.id'], name=op.f('fk_model_metrics_model_pk_models')),
        sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_model_metrics_run_id_crawl_runs')),
        sa.PrimaryKeyConstraint('model_pk', 'metric', 'run_id', name=op.f('pk_model_metrics')),
    )
    op.create_index(op.f('ix_model_metrics_run_id_metric'), 'model_metrics', ['run_id', 'metric'], unique=False)
    op.create_table(
        'latest_metrics',
        sa.Column('model_pk', sa.Integer(), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Double(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['model_pk'], ['models.id'], name=op.f('fk_latest_metrics_model_pk_models')),
        sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_latest_metrics_run_id_crawl_runs')),
        sa.PrimaryKeyConstraint('model_pk', 'metric', name=op.f('pk_latest_metrics')),
    )


def downgrade() -> None:
    op.drop_table('latest_metrics')
    op.drop_index(op.f('ix_model_metrics_run_id_metric'), table_name='model_metrics')
    op.drop_table('model_metrics')
