"""versioned snapshot tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crawl_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('observed_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('models_seen', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('spider_version', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('error_summary', sa.Text(), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_runs'))
    )
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_runs_store_observed_at'), ['store', 'observed_at'], unique=False)

    op.create_table('models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('store', 'model_id', name=op.f('uq_models_store_model_id'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('valid_to', sa.DateTime(), nullable=True),
    sa.Column('opened_by_run', sa.Integer(), nullable=False),
    sa.Column('closed_by_run', sa.Integer(), nullable=True),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('changed_elements', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('elements', sa.JSON(), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_run'], ['crawl_runs.id'], name=op.f('fk_model_versions_closed_by_run_crawl_runs')),
    sa.ForeignKeyConstraint(['model_pk'], ['models.id'], name=op.f('fk_model_versions_model_pk_models')),
    sa.ForeignKeyConstraint(['opened_by_run'], ['crawl_runs.id'], name=op.f('fk_model_versions_opened_by_run_crawl_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_versions_closed_by_run'), ['closed_by_run'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_versions_model_pk_valid_from'), ['model_pk', 'valid_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_versions_model_pk_valid_to'), ['model_pk', 'valid_to'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_versions_opened_by_run'), ['opened_by_run'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_opened_by_run'))
        batch_op.drop_index(batch_op.f('ix_model_versions_model_pk_valid_to'))
        batch_op.drop_index(batch_op.f('ix_model_versions_model_pk_valid_from'))
        batch_op.drop_index(batch_op.f('ix_model_versions_closed_by_run'))

    op.drop_table('model_versions')
    op.drop_table('models')
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_runs_store_observed_at'))

    op.drop_table('crawl_runs')
