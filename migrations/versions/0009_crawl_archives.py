"""crawl archives: the WARC files of a crawl that records several runs (a backfill), linked to each of its runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

- `archived_crawl_runs`: each run a backfill crawl recorded (one per capture day), the first run of that
  crawl (whose `archive_files` rows are the crawl's WARC files) and the capture that defines the run's day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'archived_crawl_runs',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('crawl_run_id', sa.Integer(), nullable=False),
        sa.Column('capture', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['crawl_run_id'], ['crawl_runs.id'], name=op.f('fk_archived_crawl_runs_crawl_run_id_crawl_runs')),
        sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_archived_crawl_runs_run_id_crawl_runs')),
        sa.PrimaryKeyConstraint('run_id', name=op.f('pk_archived_crawl_runs')),
    )
    op.create_index(op.f('ix_archived_crawl_runs_crawl_run_id'), 'archived_crawl_runs', ['crawl_run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_archived_crawl_runs_crawl_run_id'), table_name='archived_crawl_runs')
    op.drop_table('archived_crawl_runs')
