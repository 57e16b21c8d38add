"""crawl runs record their process (pid, host), so start-up recovery can tell an abandoned run from a live one

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Runs recorded before this migration have no process; the scheduler treats a `running` one as abandoned.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_column('host')
        batch_op.drop_column('pid')
