"""The columns of an export: the table's fields, then one per element of the taxonomy, each with a kind.

An element's kind follows what every store's spider puts in it (README: Exporting): `text` where each store
gives a string, `text_list` where each gives a list of strings, `json` where stores differ (a string here, a list
or an object there) or the value is structured. A value that does not fit its kind is written as its JSON text
(in a list column: each item that is not a string, or a one-item list), so nothing a store showed is lost.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pyarrow as pa

from crawler.elements import ELEMENTS
from storage.export import Field

TEXT_ELEMENTS = frozenset({"name", "description", "provider", "version", "published_at", "updated_at"})
# popularity and rating hold the names of the counters shown (their values are metrics: `export --metrics`)
TEXT_LIST_ELEMENTS = frozenset({"keywords", "popularity", "rating"})


def element_kind(key: str) -> str:
    return "text" if key in TEXT_ELEMENTS else "text_list" if key in TEXT_LIST_ELEMENTS else "json"


ELEMENT_KINDS: dict[str, str] = {key: element_kind(key) for key in ELEMENTS}

ARROW_TYPES = {
    "text": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "instant": pa.timestamp("us", tz="UTC"),
    "text_list": pa.list_(pa.string()),
    "json": pa.json_(),  # Parquet's JSON logical type: DuckDB reads the column as JSON, pandas as text
}


def columns(fields: tuple[Field, ...], with_elements: bool) -> list[tuple[str, str]]:
    """(name, kind) of every column of a table, the elements in the taxonomy's order."""
    return [(field.name, field.kind) for field in fields] + (list(ELEMENT_KINDS.items()) if with_elements else [])


def arrow_schema(fields: tuple[Field, ...], with_elements: bool) -> pa.Schema:
    return pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in columns(fields, with_elements)])


_exact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_text(value: Any) -> str:
    """A value as compact JSON text, exactly: orjson for speed (ten times json's), json where orjson would not be
    exact (an integer beyond 64 bits raises; NaN and infinities become null, and stored elements hold no null)."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return _exact_json(value)
    return _exact_json(value) if b"null" in text else text.decode()


def text_cell(value: Any) -> str | None:
    return value if value is None or type(value) is str else json_text(value)


def text_list_cell(value: Any) -> list[str] | None:
    if value is None:
        return None
    if type(value) is not list:
        return [text_cell(value)]
    return [item if type(item) is str else json_text(item) for item in value]
