"""counters as metrics: a store's volatile counters (downloads, likes, stars...) kept apart from versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

- `model_metrics`: (model, metric, run) -> value, a row only when a run saw the counter move (or first saw it).
- `latest_metrics`: each model's latest value of each counter, so the writer compares a whole run's counters
  with one join instead of a lookup per row.

The stores crawled before held their counters inside the records, where every tick opened a version:
ModelDepot's star count (the `popularity` element) and AWS Marketplace's review counts and average ratings
(the `rating` element and the raw record's review summaries). Their versions are rewritten as the spiders now
write them (`popularity: ["stars"]`, `rating`: the names of the counters shown, the raw review summaries
without their numbers), each counter move becomes a metric row at the run that saw it, and consecutive versions
left identical are merged into one (the run that opened the later one counts one change less). Content
hashes and changed elements are recomputed the writer's way; a held change left equal to its model's open
version is dropped. The element keys a version shows stay the same, so the coverage rows stand as they are.
Downgrading drops the tables: the counters are not put back into the versions.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# A frozen copy of the writer's hashing as it stood at this revision (storage/writer.py, tests/test_record_hash_pins.py):
# a migration must rewrite the records the same way whatever the writer's code becomes later.
canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def record_hash(elements_json: str, raw_json: str) -> str:
    """128 bits of SHA-256 over `{"elements": ..., "raw": ...}` as canonical JSON."""
    digest = hashlib.sha256(b'{"elements":')
    digest.update(elements_json.encode())
    digest.update(b',"raw":')
    digest.update(raw_json.encode())
    digest.update(b"}")
    return digest.hexdigest()[:32]


_MISSING = object()


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Element keys whose value differs, including keys that appeared or disappeared, sorted."""
    changed = [key for key, value in old.items() if new.get(key, _MISSING) != value]
    changed += [key for key in new if key not in old]
    changed.sort()
    return changed


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
        sqlite_with_rowid=False,
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
        sqlite_with_rowid=False,
    )
    connection = op.get_bind()
    for store, split in SPLITTERS.items():
        _move_counters(connection, store, split)


MODELS_AT_ONCE = 500  # models whose versions are rewritten together: memory stays flat whatever the store's size

models_table = sa.table('models', sa.column('id', sa.Integer), sa.column('store', sa.String))
versions_table = sa.table(
    'model_versions', sa.column('id', sa.Integer), sa.column('model_pk', sa.Integer), sa.column('valid_from'), sa.column('valid_to'),
    sa.column('opened_by_run', sa.Integer), sa.column('closed_by_run', sa.Integer), sa.column('change', sa.String),
    sa.column('changed_elements', sa.JSON), sa.column('content_hash', sa.String), sa.column('elements', sa.JSON), sa.column('raw', sa.JSON),
)
held_table = sa.table(
    'held_versions', sa.column('run_id', sa.Integer), sa.column('model_pk', sa.Integer), sa.column('content_hash', sa.String),
    sa.column('elements', sa.JSON), sa.column('raw', sa.JSON),
)
runs_table = sa.table('crawl_runs', sa.column('id', sa.Integer), sa.column('changed', sa.Integer))
metrics_table = sa.table('model_metrics', sa.column('model_pk'), sa.column('metric'), sa.column('run_id'), sa.column('value'))
latest_table = sa.table('latest_metrics', sa.column('model_pk'), sa.column('metric'), sa.column('value'), sa.column('run_id'))


def _modeldepot(elements: dict, raw: dict) -> tuple[dict, dict, dict]:
    """ModelDepot: the star count was the `popularity` element."""
    if not isinstance(elements.get('popularity'), (int, float)):
        return elements, raw, {}
    return {**elements, 'popularity': ['stars']}, raw, {'stars': elements['popularity']}


def _aws_marketplace(elements: dict, raw: dict) -> tuple[dict, dict, dict]:
    """AWS Marketplace: `rating` was {average, count}; the raw record's review summaries held their numbers."""
    old_rating = elements.get('rating')
    old_reviews = raw.get('reviews') if isinstance(raw.get('reviews'), dict) else {}
    if not isinstance(old_rating, dict) and not old_reviews:
        return elements, raw, {}
    rating = old_rating if isinstance(old_rating, dict) else {}
    counters = _count_and_average('', rating.get('count'), rating.get('average'))
    if old_reviews.get('ExternalReviewsCount') is not None:
        counters['external_reviews'] = _number(old_reviews['ExternalReviewsCount'])
    for summary in old_reviews.get('ProviderSummaries') or []:
        counters |= _count_and_average(f"{str(summary.get('ProviderName', '')).lower()}_", summary.get('Count'), summary.get('AverageRating'))
    for source, summary in (old_reviews.get('SyndicatedReviews') or {}).items():
        counters |= _count_and_average(f'{source.lower()}_', summary.get('TotalReviews'), summary.get('AverageCustomerRating'))
    new_elements = {key: value for key, value in elements.items() if key != 'rating'}
    if counters:
        new_elements['rating'] = sorted(counters)
    new_raw = {key: value for key, value in raw.items() if key != 'reviews'}
    if 'reviews' in raw:
        sources = _without_none({
            'ProviderSummaries': [
                _without_none({'ProviderName': s.get('ProviderName'), 'Url': s.get('Url')}) for s in old_reviews.get('ProviderSummaries') or []
            ] or None,
            'SyndicatedReviews': {
                source: _without_none({'ExternalUrl': s.get('ExternalUrl')}) for source, s in (old_reviews.get('SyndicatedReviews') or {}).items()
            } or None,
        })
        if sources is not None:
            new_raw['reviews'] = sources
    return new_elements, new_raw, counters


def _count_and_average(prefix: str, count: Any, average: Any) -> dict:
    if count is None:
        return {}
    counters = {f'{prefix}reviews': _number(count)}
    if counters[f'{prefix}reviews'] and average is not None:
        counters[f'{prefix}rating'] = _number(average)
    return counters


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _without_none(values: dict) -> dict | None:
    kept = {key: value for key, value in values.items() if value is not None}
    return kept or None


# store -> (elements, raw) -> (elements, raw, counters), as the store's spider splits its records since 0006
SPLITTERS = {'modeldepot': _modeldepot, 'aws_marketplace': _aws_marketplace}


def _move_counters(connection: sa.Connection, store: str, split) -> None:
    model_pks = connection.execute(sa.select(models_table.c.id).where(models_table.c.store == store).order_by(models_table.c.id)).scalars().all()
    fewer_changes: Counter = Counter()
    for start in range(0, len(model_pks), MODELS_AT_ONCE):
        chunk = model_pks[start : start + MODELS_AT_ONCE]
        rows = connection.execute(
            sa.select(versions_table).where(versions_table.c.model_pk.in_(chunk)).order_by(versions_table.c.model_pk, versions_table.c.valid_from, versions_table.c.id)
        ).mappings().all()
        by_model: dict[int, list] = {}
        for row in rows:
            by_model.setdefault(row['model_pk'], []).append(row)
        kept, dropped, metric_rows, latest_rows = [], [], [], []
        for model_pk, history in by_model.items():
            model_kept, latest = _rewrite_history(history, split, metric_rows, dropped, fewer_changes)
            kept += model_kept
            latest_rows += [{'model_pk': model_pk, 'metric': metric, 'value': value, 'run_id': run} for metric, (value, run) in latest.items()]
        if dropped:
            connection.execute(sa.delete(versions_table).where(versions_table.c.id.in_(dropped)))
        if kept:
            connection.execute(
                sa.update(versions_table).where(versions_table.c.id == sa.bindparam('version_id')).values(
                    valid_to=sa.bindparam('new_valid_to'), closed_by_run=sa.bindparam('new_closed_by_run'),
                    changed_elements=sa.bindparam('new_changed_elements', type_=sa.JSON), content_hash=sa.bindparam('new_content_hash'),
                    elements=sa.bindparam('new_elements', type_=sa.JSON), raw=sa.bindparam('new_raw', type_=sa.JSON),
                ),
                kept,
            )
        if metric_rows:
            connection.execute(sa.insert(metrics_table), metric_rows)
        if latest_rows:
            connection.execute(sa.insert(latest_table), latest_rows)
        _rewrite_held(connection, chunk, split)
    for run_id, fewer in fewer_changes.items():
        connection.execute(sa.update(runs_table).where(runs_table.c.id == run_id).values(changed=runs_table.c.changed - fewer))


def _rewrite_history(history: list, split, metric_rows: list, dropped: list, fewer_changes: Counter) -> tuple[list, dict]:
    """One model's versions, oldest first, rewritten without their counters: the versions kept (as update
    parameters), and its latest counter values (metric -> (value, run)); moves are appended to `metric_rows`,
    merged-away version ids to `dropped`."""
    kept: list[dict] = []
    latest: dict[str, tuple[Any, int]] = {}
    previous_elements = None
    for row in history:
        elements, raw, counters = split(dict(row['elements'] or {}), dict(row['raw'] or {}))
        for metric, value in counters.items():
            if metric not in latest or latest[metric][0] != value:
                metric_rows.append({'model_pk': row['model_pk'], 'metric': metric, 'run_id': row['opened_by_run'], 'value': value})
                latest[metric] = (value, row['opened_by_run'])
        content_hash = record_hash(canonical_json(elements), canonical_json(raw))
        last = kept[-1] if kept else None
        if last is not None and last['new_valid_to'] == row['valid_from'] and last['new_content_hash'] == content_hash:
            last['new_valid_to'], last['new_closed_by_run'] = row['valid_to'], row['closed_by_run']  # one version now
            dropped.append(row['id'])
            fewer_changes[row['opened_by_run']] += 1
            continue
        kept.append({
            'version_id': row['id'], 'new_valid_to': row['valid_to'], 'new_closed_by_run': row['closed_by_run'],
            'new_changed_elements': [] if previous_elements is None else changed_keys(previous_elements, elements),
            'new_content_hash': content_hash, 'new_elements': elements, 'new_raw': raw,
        })
        previous_elements = elements
    return kept, latest


def _rewrite_held(connection: sa.Connection, model_pks: list[int], split) -> None:
    """A suspect run's held changes, rewritten the same way; one left equal to the open version is dropped."""
    held = connection.execute(sa.select(held_table).where(held_table.c.model_pk.in_(model_pks), held_table.c.content_hash.is_not(None))).mappings().all()
    for row in held:
        elements, raw, _counters = split(dict(row['elements']), dict(row['raw']))
        content_hash = record_hash(canonical_json(elements), canonical_json(raw))
        where = sa.and_(held_table.c.run_id == row['run_id'], held_table.c.model_pk == row['model_pk'])
        open_hash = connection.execute(
            sa.select(versions_table.c.content_hash).where(versions_table.c.model_pk == row['model_pk'], versions_table.c.valid_to.is_(None))
        ).scalar()
        if open_hash == content_hash:
            connection.execute(sa.delete(held_table).where(where))
        else:
            connection.execute(sa.update(held_table).where(where).values(content_hash=content_hash, elements=elements, raw=raw))


def downgrade() -> None:
    op.drop_table('latest_metrics')
    op.drop_index(op.f('ix_model_metrics_run_id_metric'), table_name='model_metrics')
    op.drop_table('model_metrics')
