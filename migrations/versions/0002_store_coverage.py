"""store coverage: per-run model and element counts, kept by the snapshot writer

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

A database that already holds history gets its rows computed here, run by run, from the versions each run
opened and closed (the same arithmetic the writer applies from now on).
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('store_coverage',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('models', sa.Integer(), nullable=False),
    sa.Column('elements', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_store_coverage_run_id_crawl_runs')),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_store_coverage'))
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table('store_coverage')


def _backfill(connection: sa.Connection) -> None:
    """One row per existing run that opened or closed a version: the previous counts plus opened minus closed."""
    runs = sa.table("crawl_runs", sa.column("id"), sa.column("store"), sa.column("observed_at"))
    versions = sa.table("model_versions", sa.column("opened_by_run"), sa.column("closed_by_run"), sa.column("elements", sa.JSON))
    coverage = sa.table("store_coverage", sa.column("run_id"), sa.column("models"), sa.column("elements", sa.JSON))
    state: dict[str, tuple[int, Counter]] = {}
    for run_id, store in connection.execute(sa.select(runs.c.id, runs.c.store).order_by(runs.c.observed_at, runs.c.id)):
        opened = connection.execute(sa.select(versions.c.elements).where(versions.c.opened_by_run == run_id)).scalars().all()
        closed = connection.execute(sa.select(versions.c.elements).where(versions.c.closed_by_run == run_id)).scalars().all()
        if not opened and not closed:
            continue
        models, counts = state.get(store, (0, Counter()))
        counts = counts.copy()
        for elements in opened:
            counts.update(elements.keys())
        for elements in closed:
            counts.subtract(elements.keys())
        models += len(opened) - len(closed)
        state[store] = (models, counts)
        connection.execute(
            sa.insert(coverage).values(run_id=run_id, models=models, elements={key: n for key, n in sorted(counts.items()) if n > 0})
        )
