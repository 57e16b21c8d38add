"""trustworthy history: one open version per model, ordered intervals, ids of any length, held and pending changes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

- `model_versions`: a partial unique index allows one open version per model, and a CHECK keeps every
  interval in order, so no writer can leave history contradicting itself.
- `models.model_key` (a hash of `model_id`) is the indexed identity: `model_id` becomes TEXT of any length
  (PostgreSQL refused ids over 512 characters, and an index entry cannot hold a very long one).
- `crawl_runs.absent`, `absences`: removals waiting for confirmation; `held_versions`: what a suspect run
  saw but did not apply; `lock_holders`: who holds the scheduler's and the store writers' locks.

Two crawls of one store writing at once (before this revision) could leave duplicate open versions: exact
copies are dropped here. History such a race rewrote (an interval ending before it began, two different
open versions of one model) cannot be repaired safely; the upgrade stops with a message instead.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from storage.errors import StorewatchError

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    _check_history(connection)

    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('absent', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_key', sa.String(length=32), nullable=True))
    models = sa.table('models', sa.column('id', sa.Integer), sa.column('model_id', sa.Text), sa.column('model_key', sa.String))
    rows = connection.execute(sa.select(models.c.id, models.c.model_id)).all()
    for start in range(0, len(rows), 1000):
        connection.execute(
            sa.update(models).where(models.c.id == sa.bindparam('pk')).values(model_key=sa.bindparam('key')),
            [{'pk': pk, 'key': hashlib.sha256(model_id.encode()).hexdigest()[:32]} for pk, model_id in rows[start : start + 1000]],
        )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.alter_column('model_key', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('model_id', existing_type=sa.String(length=512), type_=sa.Text(), existing_nullable=False)
        batch_op.drop_constraint('uq_models_store_model_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_models_store_model_key'), ['store', 'model_key'])

    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_check_constraint('interval_order', 'valid_to IS NULL OR valid_to >= valid_from')
    op.create_index(
        'uq_model_versions_one_open', 'model_versions', ['model_pk'], unique=True,
        sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'),
    )

    op.create_table('absences',
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('first_absent_run', sa.Integer(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['first_absent_run'], ['crawl_runs.id'], name=op.f('fk_absences_first_absent_run_crawl_runs')),
    sa.ForeignKeyConstraint(['model_pk'], ['models.id'], name=op.f('fk_absences_model_pk_models')),
    sa.PrimaryKeyConstraint('model_pk', name=op.f('pk_absences'))
    )
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absences_first_absent_run'), ['first_absent_run'], unique=False)

    op.create_table('held_versions',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=True),
    sa.Column('elements', sa.JSON(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['model_pk'], ['models.id'], name=op.f('fk_held_versions_model_pk_models')),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_held_versions_run_id_crawl_runs')),
    sa.PrimaryKeyConstraint('run_id', 'model_pk', name=op.f('pk_held_versions'))
    )
    op.create_table('lock_holders',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_lock_holders'))
    )


def downgrade() -> None:
    op.drop_table('lock_holders')
    op.drop_table('held_versions')
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absences_first_absent_run'))
    op.drop_table('absences')
    op.drop_index('uq_model_versions_one_open', table_name='model_versions')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_constraint('ck_model_versions_interval_order', type_='check')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_models_store_model_key'), type_='unique')
        batch_op.create_unique_constraint('uq_models_store_model_id', ['store', 'model_id'])
        batch_op.alter_column('model_id', existing_type=sa.Text(), type_=sa.String(length=512), existing_nullable=False)
        batch_op.drop_column('model_key')
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_column('absent')


def _check_history(connection: sa.Connection) -> None:
    """Drop exact duplicate open versions; stop on contradictions only a person can resolve."""
    versions = sa.table(
        'model_versions', sa.column('id'), sa.column('model_pk'), sa.column('valid_from'), sa.column('valid_to'), sa.column('content_hash')
    )
    copy = versions.alias('copy')
    connection.execute(
        sa.delete(versions).where(
            versions.c.valid_to.is_(None),
            sa.exists().where(
                copy.c.model_pk == versions.c.model_pk,
                copy.c.valid_to.is_(None),
                copy.c.valid_from == versions.c.valid_from,
                copy.c.content_hash == versions.c.content_hash,
                copy.c.id < versions.c.id,
            ),
        )
    )
    inverted = connection.execute(
        sa.select(sa.func.count()).where(versions.c.valid_to.is_not(None), versions.c.valid_to < versions.c.valid_from)
    ).scalar_one()
    doubled = connection.execute(
        sa.select(sa.func.count()).select_from(
            sa.select(versions.c.model_pk).where(versions.c.valid_to.is_(None)).group_by(versions.c.model_pk).having(sa.func.count() > 1).subquery()
        )
    ).scalar_one()
    if inverted or doubled:
        raise StorewatchError(
            f"this database's history was rewritten by crawls of one store writing at once ({inverted} versions end "
            f"before they begin, {doubled} models have two different open versions); storewatch cannot repair it: "
            f"replay the stores' snapshots into a new database"
        )
