"""crawl runs record the Scrapyd node and job that ran them, when a Scrapyd node did

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

With `runner = "scrapyd"` a crawl runs on one of several Scrapyd nodes. The scheduler finds the run a job
recorded by its job id, `storewatch status` shows which node runs which crawl, and a run left `running` by a
node that died is closed against that node. Both are empty for a crawl run on the scheduler's own machine.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX, no table copy: SQLite would have to drop crawl_runs, which the versions'
    # foreign keys refer to.
    op.add_column('crawl_runs', sa.Column('node', sa.String(length=255), nullable=True))
    op.add_column('crawl_runs', sa.Column('job', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_crawl_runs_job'), 'crawl_runs', ['job'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_crawl_runs_job'), table_name='crawl_runs')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+) rather than a batch copy, for the same reason as above.
    op.execute('ALTER TABLE crawl_runs DROP COLUMN job')
    op.execute('ALTER TABLE crawl_runs DROP COLUMN node')
