"""The tables `storewatch export` writes, as row streams: a store as of an instant, its whole version table, and
its counters. Each row is a tuple of the table's fields, then (for the model tables) the elements' stored JSON
text, which the format writers split into a column per element. Nothing is held beyond the row being read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from storage import metrics, queries

# A field's kind, which each format maps onto a type: text, integer, number (a float), instant (UTC), text_list
# (a list of strings), json (any JSON value).


@dataclass(frozen=True)
class Field:
    """One column before the elements: its name and kind (README: Exporting says what each holds)."""

    name: str
    kind: str


MODEL_ID = Field("model_id", "text")
VALID_FROM = Field("valid_from", "instant")
OPENED_BY_RUN = Field("opened_by_run", "integer")

AS_OF_FIELDS = (MODEL_ID, VALID_FROM, OPENED_BY_RUN)
VERSION_FIELDS = (
    MODEL_ID,
    VALID_FROM,
    Field("valid_to", "instant"),
    Field("change", "text"),
    Field("ended_by", "text"),
    Field("changed_elements", "text_list"),
    OPENED_BY_RUN,
    Field("closed_by_run", "integer"),
)
METRIC_FIELDS = (
    MODEL_ID,
    Field("metric", "text"),
    Field("observed_at", "instant"),
    Field("run_id", "integer"),
    Field("value", "number"),
)


@dataclass
class ExportRows:
    """A table to export: its fields, whether each row ends with the elements' JSON text, and the rows."""

    fields: tuple[Field, ...]
    with_elements: bool
    rows: Iterator[tuple]
    unit: str  # what a row is, for messages: model, version, counter value


def models_as_of(engine: Engine, store: str, at: datetime | None) -> ExportRows:
    """The store's models at `at` (latest when None), the rows `storewatch models --as-of` lists."""
    return ExportRows(AS_OF_FIELDS, True, queries.iter_versions_as_of(engine, store, at), "model")


def all_versions(engine: Engine, store: str) -> ExportRows:
    """Every version of every model, with how each ended (queries.model_history's rule, on the stream)."""
    return ExportRows(VERSION_FIELDS, True, _with_ended_by(queries.iter_all_versions(engine, store)), "version")


def counter_values(engine: Engine, store: str) -> ExportRows:
    """Every recorded value of the store's counters (model_metrics)."""
    return ExportRows(METRIC_FIELDS, False, metrics.iter_store_metrics(engine, store), "counter value")


def _with_ended_by(rows: Iterator[tuple]) -> Iterator[tuple]:
    """Rows of iter_all_versions with `ended_by` after `change`: a closed version ended by a change when the
    same model's next version starts at its valid_to, else by a removal. Rows come by model then time, so one
    row of lookahead tells."""
    previous = None
    for row in rows:
        if previous is not None:
            yield _ended(previous, row)
        previous = row
    if previous is not None:
        yield _ended(previous, None)


def _ended(row: tuple, following: tuple | None) -> tuple:
    model_id, valid_from, valid_to, change, changed_elements, opened_by, closed_by, elements = row
    changed_elements = json.loads(changed_elements) if changed_elements else []
    if valid_to is None:
        ended_by = None
    elif following is not None and following[0] == model_id and following[1] == valid_to:
        ended_by = "changed"
    else:
        ended_by = "removed"
    return (model_id, valid_from, valid_to, change, ended_by, changed_elements, opened_by, closed_by, elements)
