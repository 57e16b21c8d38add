"""crawl runs record the Scrapyd node and job that ran them, when a Scrapyd node did

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

With `runner = "scrapyd"` a crawl runs on one of several Scrapyd nodes. The scheduler finds the run a job
recorded by its job id, `storewatch status` shows which node runs which crawl, and a run left `running` by a
node that died is closed against that node. Both are empty for a crawl run on the scheduler's own machine.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('node', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('job', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_crawl_runs_job'), ['job'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_runs_job'))
        batch_op.drop_column('job')
        batch_op.drop_column('node')
