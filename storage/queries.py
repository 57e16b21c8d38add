"""Every read storewatch makes of the versioned tables: runs, a store as of an instant, a model's history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Text, and_, cast, or_, select

from storage.errors import StorewatchError
from storage.models import CrawlRun, Model, ModelVersion, model_key
from storage.timeutil import isoformat

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__

RUN_FIELDS = (
    "id", "store", "observed_at", "status", "models_seen", "added", "changed", "removed", "returned", "errors",
    "absent", "started_at", "finished_at", "spider_version", "source", "error_summary", "stats",
)


def list_runs(engine: Engine, store: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Runs in the order they were observed (then recorded)."""
    query = select(*(runs.c[name] for name in RUN_FIELDS)).order_by(runs.c.observed_at, runs.c.id)
    if store:
        query = query.where(runs.c.store == store)
    if status:
        query = query.where(runs.c.status == status)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [_with_iso_times(dict(row)) for row in rows]


def valid_at(at: datetime):
    """The SQL condition for a version that was the model's state at instant `at`."""
    return and_(versions.c.valid_from <= at, or_(versions.c.valid_to.is_(None), versions.c.valid_to > at))


def models_as_of(engine: Engine, store: str, at: datetime | None = None) -> list[dict[str, Any]]:
    """The store's models at instant `at` (latest when None): model_id plus its information elements."""
    return list(iter_models_as_of(engine, store, at))


STREAM_ROWS = 1000  # rows fetched at a time when a store's models are streamed


def iter_models_as_of(engine: Engine, store: str, at: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The same rows as models_as_of, streamed (see iter_model_elements_json)."""
    for model_id, elements in iter_model_elements_json(engine, store, at):
        yield {"model_id": model_id, **json.loads(elements)}


def iter_model_elements_json(engine: Engine, store: str, at: datetime | None = None) -> Iterator[tuple[str, str]]:
    """(model_id, its elements as the JSON text stored) for the store's models at `at`, by model_id, fetched
    STREAM_ROWS at a time (a server-side cursor on PostgreSQL): listing two million models holds a thousand in
    memory, not two million. The text is what the writer stored (canonical JSON), so a caller that only passes
    it on need not decode it. The connection stays open until the iterator is exhausted or closed."""
    yield from stream_rows(engine, _as_of_query(store, at, models.c.model_id, cast(versions.c.elements, Text)))


def iter_versions_as_of(engine: Engine, store: str, at: datetime | None = None) -> Iterator[tuple]:
    """(model_id, valid_from, opened_by_run, elements JSON text) of the store's models at `at`: the rows of
    iter_model_elements_json with the version each comes from, streamed the same way."""
    columns = (models.c.model_id, versions.c.valid_from, versions.c.opened_by_run, cast(versions.c.elements, Text))
    yield from stream_rows(engine, _as_of_query(store, at, *columns))


def iter_all_versions(engine: Engine, store: str) -> Iterator[tuple]:
    """Every version of every model of the store, by model_id then oldest first: (model_id, valid_from,
    valid_to, change, changed_elements JSON text, opened_by_run, closed_by_run, elements JSON text), streamed."""
    query = (
        select(
            models.c.model_id, versions.c.valid_from, versions.c.valid_to, versions.c.change,
            cast(versions.c.changed_elements, Text), versions.c.opened_by_run, versions.c.closed_by_run,
            cast(versions.c.elements, Text),
        )
        .join(versions, versions.c.model_pk == models.c.id)
        .where(models.c.store == store)
        .order_by(models.c.model_id, versions.c.valid_from, versions.c.id)
    )
    yield from stream_rows(engine, query)


def _as_of_query(store: str, at: datetime | None, *columns):
    condition = versions.c.valid_to.is_(None) if at is None else valid_at(at)
    return (
        select(*columns)
        .join(versions, versions.c.model_pk == models.c.id)
        .where(models.c.store == store, condition)
        .order_by(models.c.model_id)
    )


def stream_rows(engine: Engine, query) -> Iterator[tuple]:
    """The query's rows fetched STREAM_ROWS at a time; the connection stays open until the iterator ends."""
    with engine.connect() as connection:
        yield from connection.execute(query.execution_options(yield_per=STREAM_ROWS))


def model_history(engine: Engine, store: str, model_id: str) -> list[dict[str, Any]]:
    """Every version of one model, oldest first, with its validity, how it began and ended, and what changed."""
    query = (
        select(versions)
        .join(models, models.c.id == versions.c.model_pk)
        .where(models.c.store == store, models.c.model_key == model_key(model_id))
        .order_by(versions.c.valid_from, versions.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    if not rows:
        raise StorewatchError(f"{store}: no model {model_id!r} in the database (see `storewatch models {store}`)")
    history, previous = [], None
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        if row["valid_to"] is None:
            ended = None
        elif following is not None and following["valid_from"] == row["valid_to"]:
            ended = "changed"
        else:
            ended = "removed"
        old = previous["elements"] if previous is not None else {}
        history.append(
            {
                "valid_from": isoformat(row["valid_from"]),
                "valid_to": isoformat(row["valid_to"]),
                "change": row["change"],
                "ended_by": ended,
                "changes": {
                    key: {"old": old.get(key), "new": row["elements"].get(key)} for key in row["changed_elements"]
                },
                "content_hash": row["content_hash"],
                "elements": row["elements"],
            }
        )
        previous = row
    return history


def _with_iso_times(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("observed_at", "started_at", "finished_at"):
        row[key] = isoformat(row[key])
    return row
