"""Put a rebuilt history of a store in place of its original one, in one transaction.

The rebuilt history (a re-extraction recorded into another database) holds one run for each of the original
runs it was rebuilt from, in the same order. The original runs keep their numbers (reports, archives and
notes name them); what they recorded -- versions, counters, coverage, absences, held changes, their counts --
is replaced by what the rebuilt runs recorded. Nothing is changed unless everything is: the swap runs in one
transaction, and a failure leaves the original history as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from storage.errors import StorewatchError
from storage.models import Absence, CrawlRun, HeldVersion, LatestMetric, Model, ModelMetric, ModelVersion, StoreCoverage

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__
metrics = ModelMetric.__table__
latest = LatestMetric.__table__
coverage = StoreCoverage.__table__
absences = Absence.__table__
held = HeldVersion.__table__

RUN_OUTCOME = ("status", "models_seen", "added", "changed", "removed", "returned", "errors", "absent", "spider_version", "error_summary")
CHUNK = 5000


def replace_store_history(original: Engine, rebuilt: Engine, store: str, original_run_ids: list[int]) -> int:
    """Replace what `original_run_ids` recorded with what the rebuilt database's runs of `store` recorded.

    `original_run_ids` are the runs that were re-extracted, in the order they were; the store's other runs
    (failed ones, which recorded nothing) are left alone. Returns the number of versions now stored."""
    with rebuilt.connect() as source:
        rebuilt_runs = source.execute(
            select(runs.c.id, *(runs.c[name] for name in RUN_OUTCOME)).where(runs.c.store == store).order_by(runs.c.observed_at, runs.c.id)
        ).mappings().all()
        if len(rebuilt_runs) != len(original_run_ids):
            raise StorewatchError(
                f"{store}: the rebuilt history has {len(rebuilt_runs)} runs for {len(original_run_ids)} original ones; nothing was replaced"
            )
        run_map = {row["id"]: original for row, original in zip(rebuilt_runs, original_run_ids)}
        with original.begin() as target:
            model_map = _model_map(source, target, store)
            _delete_store_rows(target, store)
            copied = _copy(source, target, versions, store, model_map, run_map, ("opened_by_run", "closed_by_run"), drop=("id",))
            _copy(source, target, metrics, store, model_map, run_map, ("run_id",))
            _copy(source, target, latest, store, model_map, run_map, ("run_id",))
            _copy(source, target, absences, store, model_map, run_map, ("first_absent_run",))
            _copy(source, target, held, store, model_map, run_map, ("run_id",))
            _copy_coverage(source, target, store, run_map)
            for row in rebuilt_runs:
                target.execute(update(runs).where(runs.c.id == run_map[row["id"]]).values({name: row[name] for name in RUN_OUTCOME}))
    return copied


def _model_map(source: Connection, target: Connection, store: str) -> dict[int, int]:
    """Rebuilt model pk -> original model pk, adding to the original the models only the rebuilt history has."""
    existing = dict(target.execute(select(models.c.model_key, models.c.id).where(models.c.store == store)).all())
    mapping: dict[int, int] = {}
    missing = []
    for pk, key, model_id in source.execute(select(models.c.id, models.c.model_key, models.c.model_id).where(models.c.store == store)):
        if key in existing:
            mapping[pk] = existing[key]
        else:
            missing.append((pk, key, model_id))
    for pk, key, model_id in missing:
        mapping[pk] = target.execute(insert(models).values(store=store, model_key=key, model_id=model_id).returning(models.c.id)).scalar_one()
    return mapping


def _delete_store_rows(target: Connection, store: str) -> None:
    store_models = select(models.c.id).where(models.c.store == store).scalar_subquery()
    store_runs = select(runs.c.id).where(runs.c.store == store).scalar_subquery()
    for table in (latest, metrics, absences):
        target.execute(delete(table).where(table.c.model_pk.in_(store_models)))
    target.execute(delete(held).where(held.c.run_id.in_(store_runs)))
    target.execute(delete(coverage).where(coverage.c.run_id.in_(store_runs)))
    target.execute(delete(versions).where(versions.c.model_pk.in_(store_models)))


def _copy(source, target, table, store, model_map, run_map, run_columns, drop=()) -> int:
    store_models = select(models.c.id).where(models.c.store == store).scalar_subquery()
    copied = 0
    for chunk in _chunks(source.execute(select(table).where(table.c.model_pk.in_(store_models)).execution_options(yield_per=CHUNK)).mappings()):
        rows = []
        for row in chunk:
            row = {name: value for name, value in row.items() if name not in drop}
            row["model_pk"] = model_map[row["model_pk"]]
            for column in run_columns:
                if row[column] is not None:
                    row[column] = run_map[row[column]]
            rows.append(row)
        target.execute(insert(table), rows)
        copied += len(rows)
    return copied


def _copy_coverage(source, target, store: str, run_map: dict[int, int]) -> None:
    store_runs = select(runs.c.id).where(runs.c.store == store).scalar_subquery()
    rows = [
        {**row, "run_id": run_map[row["run_id"]]}
        for row in source.execute(select(coverage).where(coverage.c.run_id.in_(store_runs))).mappings()
    ]
    if rows:
        target.execute(insert(coverage), rows)


def _chunks(rows) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(row))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
