"""The formats of an export, each written as the rows are read: Parquet a row group at a time, CSV and JSONL a
row at a time. Memory holds one row group (50,000 rows) at most, whatever the store's size."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from crawler.export.columns import ARROW_TYPES, ELEMENT_KINDS, arrow_schema, columns, json_text, text_cell, text_list_cell
from crawler.safetext import json_line, json_line_with_fields
from storage.collector import cycle_collector_paused
from storage.export import ExportRows
from storage.metrics import metric_value
from storage.timeutil import isoformat

ROW_GROUP = 50_000  # rows per Parquet row group: what a reader reads at once, and what the export holds
CONVERT_ROWS = 10_000  # rows decoded into Python values at a time, before they become compact Arrow arrays
PROGRESS_EVERY = 10_000

Progress = Callable[[int], None]


def write_parquet(export: ExportRows, path: Path, progress: Progress) -> int:
    """The rows as a Parquet file at `path`, typed by column kind (crawler/export/columns.py); the row count."""
    schema = arrow_schema(export.fields, export.with_elements)
    written = 0
    with pq.ParquetWriter(path, schema) as writer, cycle_collector_paused():
        batches: list[pa.RecordBatch] = []
        for chunk in _chunks(export.rows, CONVERT_ROWS):
            batches.append(_record_batch(chunk, export, schema))
            written += len(chunk)
            if sum(batch.num_rows for batch in batches) >= ROW_GROUP:
                writer.write_table(pa.Table.from_batches(batches), row_group_size=ROW_GROUP)
                batches = []
            progress(written)
        if batches:
            writer.write_table(pa.Table.from_batches(batches), row_group_size=ROW_GROUP)
    return written


def write_csv(export: ExportRows, stream: IO[str], progress: Progress) -> int:
    """The rows as CSV: a header, then each cell as Parquet holds it; a list or JSON cell as its JSON text, an
    absent element as an empty cell. Cells are written exactly (no quote before a leading `=`: this is data)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([name for name, _ in columns(export.fields, export.with_elements)])
    written = 0
    with cycle_collector_paused():
        for written, row in enumerate(export.rows, 1):
            cells = [_csv_cell(value, field.kind) for value, field in zip(row, export.fields)]
            if export.with_elements:
                elements = json.loads(row[-1])
                cells += [_csv_element(elements.get(key), kind) for key, kind in ELEMENT_KINDS.items()]
            writer.writerow(cells)
            if written % PROGRESS_EVERY == 0:
                progress(written)
    return written


def write_jsonl(export: ExportRows, stream: IO[str], progress: Progress) -> int:
    """The rows as JSON Lines: the fields, then the elements the model shows with their values as stored
    (native JSON; an element the store does not show is left out, as in `storewatch models --format jsonl`)."""
    written = 0
    for written, row in enumerate(export.rows, 1):
        fields = {field.name: _plain(value, field.kind) for value, field in zip(row, export.fields)}
        stream.write((json_line_with_fields(fields, row[-1]) if export.with_elements else json_line(fields)) + "\n")
        if written % PROGRESS_EVERY == 0:
            progress(written)
    return written


WRITERS = {"parquet": write_parquet, "csv": write_csv, "jsonl": write_jsonl}


def _chunks(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _record_batch(chunk: list[tuple], export: ExportRows, schema: pa.Schema) -> pa.RecordBatch:
    arrays = [pa.array([row[index] for row in chunk], ARROW_TYPES[field.kind]) for index, field in enumerate(export.fields)]
    if export.with_elements:
        values = _element_values([row[-1] for row in chunk])
        arrays += [_element_array(values[key], kind) for key, kind in ELEMENT_KINDS.items()]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _element_values(texts: list[str]) -> dict[str, list[Any]]:
    """Each element's values down the chunk (None where a model does not show it), each record decoded once."""
    values: dict[str, list[Any]] = {key: [None] * len(texts) for key in ELEMENT_KINDS}
    for index, text in enumerate(texts):
        for key, value in json.loads(text).items():
            column = values.get(key)
            if column is not None:  # the pipeline refuses keys outside the taxonomy; a record written otherwise keeps its own
                column[index] = value
    return values


def _element_array(values: list[Any], kind: str) -> pa.Array:
    if values.count(None) == len(values):  # an element none of these models shows (most, in most stores)
        return pa.nulls(len(values), ARROW_TYPES[kind])
    if kind == "json":
        return pa.array([None if value is None else json_text(value) for value in values], ARROW_TYPES["json"])
    if kind == "text_list" and not all(value is None or type(value) is list for value in values):
        return pa.array([text_list_cell(value) for value in values], ARROW_TYPES[kind])  # Arrow would split a string into characters
    try:
        return pa.array(values, ARROW_TYPES[kind])  # every value fits the kind: converted in C, no Python work per value
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        cell = text_cell if kind == "text" else text_list_cell
        return pa.array([cell(value) for value in values], ARROW_TYPES[kind])


def _plain(value: Any, kind: str) -> Any:
    """A field's value as JSON and CSV give it: an instant as ISO 8601 text, a count as an integer."""
    if kind == "instant":
        return isoformat(value)
    if kind == "number":
        return metric_value(value)
    return value


def _csv_cell(value: Any, kind: str) -> str:
    value = _plain(value, kind)
    if value is None:
        return ""
    return value if type(value) is str else json_text(value) if kind == "text_list" else str(value)


def _csv_element(value: Any, kind: str) -> str:
    if value is None:
        return ""
    return text_cell(value) if kind == "text" else json_text(value)

