"""Reads of the counters kept as metrics: a model's series, and the store's top movers over a window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Float, cast, func, select

from storage.errors import StorewatchError
from storage.models import CrawlRun, Model, ModelMetric, model_key
from storage.queries import stream_rows
from storage.timeutil import isoformat

runs = CrawlRun.__table__
models = Model.__table__
metrics = ModelMetric.__table__

MOVER_ORDERS = ("absolute", "relative")


def metric_value(value: float | None) -> int | float | None:
    """A stored counter as the store showed it: a count comes back as an int, a score stays a float."""
    return int(value) if value is not None and float(value).is_integer() else value


def metric_series(engine: Engine, store: str, model_id: str, metric: str | None = None) -> list[dict[str, Any]]:
    """Every recorded value of one model's counters (or of `metric` only), by metric then in time order; a
    value is recorded when the counter moved, so it holds until the next row. Each row carries its change
    from the previous one (None for the first)."""
    with engine.connect() as connection:
        model_pk = connection.execute(
            select(models.c.id).where(models.c.store == store, models.c.model_key == model_key(model_id))
        ).scalar()
        if model_pk is None:
            raise StorewatchError(f"{store}: no model {model_id!r} in the database (see `storewatch models {store}`)")
        query = (
            select(metrics.c.metric, runs.c.observed_at, metrics.c.run_id, metrics.c.value)
            .join(runs, runs.c.id == metrics.c.run_id)
            .where(metrics.c.model_pk == model_pk)
            .order_by(metrics.c.metric, runs.c.observed_at, runs.c.id)
        )
        if metric is not None:
            query = query.where(metrics.c.metric == metric)
        rows = connection.execute(query).all()
        if metric is not None and not rows:
            shown = connection.execute(select(metrics.c.metric).where(metrics.c.model_pk == model_pk).distinct()).scalars().all()
            if shown:
                raise StorewatchError(f"{store}: {model_id} has no counter {metric!r}; it has {', '.join(sorted(shown))}")
    series, previous = [], {}
    for row in rows:
        value = metric_value(row.value)
        before = previous.get(row.metric)
        series.append(
            {
                "metric": row.metric,
                "observed_at": isoformat(row.observed_at),
                "run_id": row.run_id,
                "value": value,
                "change": None if before is None else metric_value(row.value - before),
            }
        )
        previous[row.metric] = row.value
    return series


def iter_store_metrics(engine: Engine, store: str) -> Iterator[tuple]:
    """Every recorded value of every counter of the store's models: (model_id, metric, observed_at, run_id,
    value), by model_id, metric, then time; streamed as a store's models are (queries.stream_rows)."""
    query = (
        select(models.c.model_id, metrics.c.metric, runs.c.observed_at, metrics.c.run_id, metrics.c.value)
        .join(metrics, metrics.c.model_pk == models.c.id)
        .join(runs, runs.c.id == metrics.c.run_id)
        .where(models.c.store == store)
        .order_by(models.c.model_id, metrics.c.metric, runs.c.observed_at, runs.c.id)
    )
    yield from stream_rows(engine, query)


def top_movers(
    engine: Engine, store: str, since: datetime, until: datetime, metric: str, limit: int = 10, order: str = "absolute"
) -> list[dict[str, Any]]:
    """The models whose counter `metric` rose most between instants `since` and `until`: its value as of each
    (the latest recorded at or before it), the increase, and the increase relative to the value at `since`.

    `order` is `absolute` (the largest increase) or `relative` (the largest ratio). A model first counted
    within the window has no value to rise from and is not a mover.
    """
    if order not in MOVER_ORDERS:
        raise StorewatchError(f"unknown order {order!r}: one of {', '.join(MOVER_ORDERS)}")
    if until <= since:
        raise StorewatchError(f"the window ends ({isoformat(until)}) before it starts ({isoformat(since)})")
    start, end = _value_as_of(store, metric, since), _value_as_of(store, metric, until)
    increase = (end.c.value - start.c.value).label("increase")
    relative = (increase / func.nullif(cast(start.c.value, Float), 0)).label("relative")  # PostgreSQL: no division by zero
    query = (
        select(models.c.model_id, start.c.value.label("since_value"), end.c.value.label("until_value"), increase, relative)
        .select_from(end)
        .join(start, start.c.model_pk == end.c.model_pk)
        .join(models, models.c.id == end.c.model_pk)
        .where(end.c.observed_at > since, increase > 0)
        .order_by((increase if order == "absolute" else relative).desc(), models.c.model_id)
        .limit(limit)
    )
    if order == "relative":
        query = query.where(start.c.value > 0)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        {
            "model_id": row.model_id,
            "metric": metric,
            "since": metric_value(row.since_value),
            "until": metric_value(row.until_value),
            "increase": metric_value(row.increase),
            "relative": None if not row.since_value else round(float(row.relative), 6),
        }
        for row in rows
    ]


def _value_as_of(store: str, metric: str, at: datetime):
    """Each model's latest recorded value of `metric` at or before `at`, with the instant it was recorded."""
    ranked = (
        select(
            metrics.c.model_pk,
            metrics.c.value,
            runs.c.observed_at,
            func.row_number().over(partition_by=metrics.c.model_pk, order_by=(runs.c.observed_at.desc(), runs.c.id.desc())).label("rank"),
        )
        .join(runs, runs.c.id == metrics.c.run_id)
        .where(runs.c.store == store, metrics.c.metric == metric, runs.c.observed_at <= at)
        .subquery()
    )
    return select(ranked.c.model_pk, ranked.c.value, ranked.c.observed_at).where(ranked.c.rank == 1).subquery()
