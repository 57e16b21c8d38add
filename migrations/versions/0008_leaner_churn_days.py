"""leaner churn days: a day where most counters moved writes little beside the moved values

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

- `model_metrics` loses its index on (run_id, metric): the writer finds a run's moved counters in a temporary
  table of its own, and the readers (a model's series, top movers) go by model or scan a metric whole. The index
  was half of what a moved counter cost on SQLite.
- PostgreSQL: `latest_metrics` keeps 30% of each page free (fillfactor 70), so that the writer's upsert of a
  moved counter stays on its page (a HOT update: no new index entry; the old row's space is reused the next day).
- PostgreSQL: the primary key of `model_metrics` (model, metric, run) fills its leaf pages to half (fillfactor
  50). A day's moved counters land all over that index, one model's next to its earlier values; in pages packed
  to 90% nearly every page split in two on the first churn day. Only pages written from now on are filled so.
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f('ix_model_metrics_run_id_metric'), table_name='model_metrics')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE latest_metrics SET (fillfactor = 70)')
        op.execute('ALTER INDEX pk_model_metrics SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER INDEX pk_model_metrics RESET (fillfactor)')
        op.execute('ALTER TABLE latest_metrics RESET (fillfactor)')
    op.create_index(op.f('ix_model_metrics_run_id_metric'), 'model_metrics', ['run_id', 'metric'], unique=False)
