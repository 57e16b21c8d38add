"""Import a published dump: a file of API-shaped records recorded as one run, as if the store had been crawled.

A dump is JSONL (one record per line; `.jsonl` or `.jsonl.gz`) or Parquet (the Hub-statistics datasets). Each
record goes through the store's own extraction (the function its spider uses on an API record), the same
normalisation (crawler.pipelines.checked_record) and the same SnapshotWriter as a crawl, so an imported day and a
crawled day of the same records are the same history (a dump holding other fields than the crawled listing does
shows as changes where a store's history switches source). The file is the run's listing:

- every line read: `complete` (the health gate may still judge it against the store's history);
- a line that is not a JSON object: nobody can tell which model it was, so the run is `partial` (removes
  nothing), as a listing entry without an id is in a crawl;
- a record with an id that the extraction cannot read: an unreadable model (present, unchanged);
- a file that cannot be read to its end (a cut gzip, a damaged Parquet row group): `partial`.
"""

from __future__ import annotations

import gzip
import importlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crawler.accounting import LISTING_RESPONSES, UnreadablePage, error_count, error_summary, note_failure, run_status
from crawler.items import ModelRecord, UnreadableModel
from crawler.pipelines import STAGED_MODELS, checked_record, record_failure
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.writer import RunSummary, SnapshotWriter


@dataclass(frozen=True)
class Importer:
    """How a store reads one API-shaped record: its spider's extraction, and where the record names its model."""

    extract: str  # "module:function", API record -> ModelRecord (raises UnreadablePage)
    model_id: str  # "module:function", API record -> model id; or the name of the record's id field


# One entry per store whose API records a dump can hold; the modules are imported only when that store is imported.
IMPORTERS = {
    "huggingface": Importer("spiders.huggingface:extract_record", "id"),
    "onnx_zoo": Importer("spiders.onnx_zoo:extract_model", "spiders.onnx_zoo:model_id"),
    "replicate": Importer("spiders.replicate:extract_record", "spiders.replicate:model_id"),
}

# Fields the Hub-statistics dump stores as JSON text where the API answers with an object.
JSON_TEXT_FIELDS = ("cardData", "gguf")
PARQUET_BATCH_ROWS = 1000  # rows decoded at a time: memory stays flat whatever the file's size
PROGRESS_EVERY = 10_000  # records between two progress calls


@dataclass(frozen=True)
class MalformedLine:
    """A line of a JSONL dump that is not a JSON object."""

    line: int
    reason: str


class ImportStats:
    """The crawl's stats interface (inc_value, get_value, set_value) over a dict: crawler.accounting counts an
    import's failures and decides its status exactly as it does a crawl's."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value

    def get_stats(self) -> dict[str, Any]:
        return self.values


def importer_for(store: str) -> tuple[Callable[[dict], ModelRecord], Callable[[dict], str]]:
    """The store's extraction and id functions; a one-line error for a store no dump can be imported into."""
    importer = IMPORTERS.get(store)
    if importer is None:
        raise StorewatchError(f"{store}: no importer for this store's records; `storewatch import` reads {', '.join(sorted(IMPORTERS))}")
    id_of = _load(importer.model_id) if ":" in importer.model_id else (lambda record: record[importer.model_id])
    return _load(importer.extract), id_of


def _load(path: str) -> Callable:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


# -- reading a dump ---------------------------------------------------------------------------------------------


class DumpCutShort(Exception):
    """The file could not be read to its end (a cut gzip, a damaged Parquet row group): the run is partial."""


def dump_rows(path: Path) -> Iterator[dict[str, Any] | MalformedLine]:
    """The file's records, API-shaped, one at a time; the file is opened at the first. A StorewatchError when
    the file is missing or not a dump storewatch reads (check_dump tells before anything is recorded);
    DumpCutShort when it breaks off."""
    kind = dump_kind(path)
    if kind == "parquet":
        yield from _parquet_rows(_open_parquet(path))
    else:
        yield from _jsonl_rows(_open_gzip(path) if kind == "jsonl.gz" else path.open("rb"))


def check_dump(path: Path) -> None:
    """A one-line StorewatchError when the file is missing or not a dump storewatch reads (its start is read)."""
    kind = dump_kind(path)
    if kind == "parquet":
        _open_parquet(path).close()
    elif kind == "jsonl.gz":
        _open_gzip(path).close()


def dump_kind(path: Path) -> str:
    """`jsonl`, `jsonl.gz` or `parquet`, from the file's name."""
    if not path.is_file():
        raise StorewatchError(f"no such file: {path}")
    for kind in ("parquet", "jsonl.gz", "jsonl"):
        if path.name.lower().endswith(f".{kind}"):
            return kind
    raise StorewatchError(f"{path.name}: not a dump storewatch reads (expected .jsonl, .jsonl.gz or .parquet)")


def _open_gzip(path: Path):
    stream = gzip.open(path, "rb")
    try:
        stream.peek(1)  # a file that is not gzip fails here, before a run is recorded
    except (OSError, EOFError, zlib.error) as error:
        stream.close()
        raise StorewatchError(f"{path.name}: not a gzip file ({error})") from None
    return stream


def _open_parquet(path: Path):
    import pyarrow.parquet as pq  # only an import of a Parquet file pays for loading pyarrow

    try:
        return pq.ParquetFile(path)
    except Exception as error:  # noqa: BLE001 -- pyarrow raises several types for a file that is not Parquet
        raise StorewatchError(f"{path.name}: not a Parquet file ({' '.join(str(error).split())})") from None


def _jsonl_rows(stream) -> Iterator[dict[str, Any] | MalformedLine]:
    with stream:
        lines = enumerate(stream, start=1)
        while True:
            try:
                number, line = next(lines)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as error:
                raise DumpCutShort(str(error)) from None
            if line.strip():
                yield _json_record(number, line)


def _json_record(number: int, line: bytes) -> dict[str, Any] | MalformedLine:
    try:
        record = json.loads(line)
    except ValueError as error:  # not JSON, or not UTF-8
        return MalformedLine(number, f"not JSON ({error})")
    if not isinstance(record, dict):
        return MalformedLine(number, f"a JSON {type(record).__name__}, not an object")
    return api_shaped(record)


def _parquet_rows(parquet) -> Iterator[dict[str, Any]]:
    from pyarrow import ArrowException

    batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (ArrowException, OSError) as error:
            raise DumpCutShort(" ".join(str(error).split())) from None
        for row in batch.to_pylist():
            yield api_shaped(parquet_value(row))


def parquet_value(value: Any) -> Any:
    """A Parquet row's value as the API writes it, in one pass:

    - null struct fields dropped: a Parquet struct has one fixed set of fields (the Hub dump's
      safetensors.parameters holds every dtype ever seen, null where a model has none), where the API record
      simply lacks the key;
    - timestamps (naive ones are UTC wall-clock) as the Hub API writes them: `2022-11-16T23:23:10.000Z`.
    """
    if isinstance(value, dict):
        return {key: parquet_value(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [parquet_value(item) for item in value]
    if isinstance(value, datetime):
        instant = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
    return value


def api_shaped(record: dict[str, Any]) -> dict[str, Any]:
    """A dump record as the store's API gives it: the fields the Hub dump holds as JSON text decoded."""
    for key in JSON_TEXT_FIELDS:
        if isinstance(record.get(key), str):
            try:
                record[key] = json.loads(record[key])
            except ValueError:
                pass  # left as text: the extraction decides whether the record is readable
    return record


# -- recording the run ------------------------------------------------------------------------------------------


@dataclass
class ImportJob:
    """One dump to record as one run of `store`, observed at `observed_at`."""

    store: str
    path: Path
    observed_at: datetime
    spider_version: str
    required: tuple[str, ...] = ()
    policy: HealthPolicy | None = None
    max_raw_bytes: int = 0


def import_dump(engine, job: ImportJob, on_progress: Callable[[int, int, int], None] = lambda records, models, failures: None) -> RunSummary:
    """Record the dump as one run and return its summary. `on_progress(records, models, failures)` is called
    every PROGRESS_EVERY records. Ctrl-C records the run `partial` (nothing removed) and is raised again."""
    extract, id_of = importer_for(job.store)
    check_dump(job.path)
    writer = SnapshotWriter(
        engine, job.store, job.observed_at, job.spider_version, source=f"import:{job.path.name}", policy=job.policy, max_raw_bytes=job.max_raw_bytes
    )
    writer.start()
    stats = ImportStats()
    stats.set_value(LISTING_RESPONSES, 1)  # the file is the run's listing, and it was opened
    records, close_reason = 0, "finished"
    try:
        try:
            for row in dump_rows(job.path):
                records += 1
                stage(writer, row, extract, id_of, job.required, stats)
                if records % PROGRESS_EVERY == 0:
                    on_progress(records, stats.get_value(STAGED_MODELS, 0), error_count(stats.values))
        except KeyboardInterrupt:
            close_reason = "shutdown"
        except DumpCutShort as error:
            note_failure(stats, "listing", f"{job.path.name}: the file breaks off after {records} records ({error}); nothing removed")
        summary = writer.finish(
            run_status(stats.values, close_reason),
            errors=error_count(stats.values),
            error_summary=error_summary(stats.values, close_reason),
            stats={"storewatch/import_file": job.path.name, "storewatch/import_records": records, STAGED_MODELS: stats.get_value(STAGED_MODELS, 0)},
        )
    except BaseException as error:  # whatever broke, the run must not stay `running`
        record_failure(writer, error if isinstance(error, Exception) else StorewatchError("interrupted while recording"))
        raise
    if close_reason == "shutdown":
        raise KeyboardInterrupt
    return summary


def stage(writer: SnapshotWriter, row: dict[str, Any] | MalformedLine, extract, id_of, required: tuple[str, ...], stats: ImportStats) -> None:
    """Hand one dump row to the writer: a model's record, an unreadable model, or a counted malformed line."""
    if isinstance(row, MalformedLine):
        note_failure(stats, "listing", f"line {row.line}: {row.reason}; nothing removed")
        return
    try:
        model_id = id_of(row)
    except (KeyError, TypeError, AttributeError):
        model_id = None
    if not isinstance(model_id, str) or not model_id:
        note_failure(stats, "listing", f"a record names no model id (fields {', '.join(sorted(row)[:8])}); nothing removed")
        return
    try:
        record = checked_record(extract(row), required, stats)
    except UnreadablePage as error:
        note_failure(stats, "model", str(error))
        record = UnreadableModel(model_id, str(error))
    except Exception as error:  # noqa: BLE001 -- an extraction bug fails the listing, as a raising callback does in a crawl
        note_failure(stats, "listing", f"{model_id}: extraction failed ({type(error).__name__}: {error}); nothing removed")
        record = UnreadableModel(model_id, str(error))
    if isinstance(record, UnreadableModel):
        writer.add_unreadable(record.model_id)
    else:
        writer.add(record.model_id, record.elements, record.raw, record.counters)
    stats.inc_value(STAGED_MODELS)
