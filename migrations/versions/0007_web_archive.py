"""web archive: the WARC files each run wrote, and the payloads archived before (deduplication across runs)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

- `archived_payloads`: payload digest -> the first record that archived it (URI, date, file, offset), so a
  later response with the same payload is written as a `revisit` record.
- `archive_files`: which WARC files each run wrote, in order, with their record count and size.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.timeutil import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'archived_payloads',
        sa.Column('digest', sa.String(length=80), nullable=False),
        sa.Column('target_uri', sa.Text(), nullable=False),
        sa.Column('archived_at', UTCDateTime(), nullable=False),
        sa.Column('warc_file', sa.Text(), nullable=False),
        sa.Column('offset', sa.BigInteger(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_archived_payloads_run_id_crawl_runs')),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_archived_payloads')),
    )
    op.create_index(op.f('ix_archived_payloads_run_id'), 'archived_payloads', ['run_id'], unique=False)
    op.create_table(
        'archive_files',
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_archive_files_run_id_crawl_runs')),
        sa.PrimaryKeyConstraint('path', name=op.f('pk_archive_files')),
    )
    op.create_index(op.f('ix_archive_files_run_id'), 'archive_files', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_archive_files_run_id'), table_name='archive_files')
    op.drop_table('archive_files')
    op.drop_index(op.f('ix_archived_payloads_run_id'), table_name='archived_payloads')
    op.drop_table('archived_payloads')
