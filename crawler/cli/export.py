"""`storewatch export`: a store's models as of a date, its whole version table, or its counters, as a file for
pandas, DuckDB or R (Parquet, CSV, JSONL)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, ProgressLine, database, format_option, print_line, stderr, streamed_output
from crawler.stores import check_store
from storage import export as tables
from storage.errors import StorewatchError
from storage.timeutil import parse_instant
from storage.wording import plural

SUFFIX_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl"}


def export(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The models at this date (end of that day, UTC) or ISO instant; default: now")
    ] = None,
    versions: Annotated[bool, typer.Option("--versions", help="Every version of every model instead, with its validity")] = False,
    metrics: Annotated[bool, typer.Option("--metrics", help="Every recorded value of the store's counters instead")] = False,
    format: Annotated[str | None, format_option("parquet", "csv", "jsonl")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (replaced only once the export is whole); default: stdout")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a store's models as of a date (a row per model, a column per information element), its whole version
    table (--versions) or its counters (--metrics) as Parquet, CSV or JSONL, read as they are written.

    The format is --format, else the suffix of --out (.parquet, .csv, .jsonl). Parquet needs --out; CSV and JSONL
    go to stdout without it. README: Exporting gives every column and its type in each format.

    Example:

    \b
        storewatch export onnx_zoo --as-of 2023-12-26 --out onnx_zoo.parquet
        storewatch export pytorch_hub --versions --format csv > pytorch_hub_versions.csv
        storewatch export modeldepot --metrics --format jsonl
    """
    check_store(store)
    if versions and metrics:
        raise StorewatchError("--versions and --metrics are two different exports: give one of them")
    if as_of is not None and (versions or metrics):
        raise StorewatchError(f"--as-of selects the models at one date; {'--versions' if versions else '--metrics'} exports every date")
    at = parse_instant(as_of) if as_of is not None else None
    format = format or output_format(out)
    if format == "parquet" and out is None:
        raise StorewatchError("Parquet is written to a file: give --out FILE.parquet")
    from crawler.export.output import replaced_when_done
    from crawler.export.writers import WRITERS

    engine = database(db)
    if versions:
        rows, when = tables.all_versions(engine, store), ""
    elif metrics:
        rows, when = tables.counter_values(engine, store), ""
    else:
        rows, when = tables.models_as_of(engine, store, at), f" as of {as_of or 'now'}"
    progress = ProgressLine(f"{store}:")

    def show(written: int) -> None:
        progress.show(plural(written, rows.unit))

    write = WRITERS[format]
    try:
        if out is None:
            with streamed_output():
                written = write(rows, sys.stdout, show)
        else:
            with replaced_when_done(out) as temporary:
                if format == "parquet":
                    written = write(rows, temporary, show)
                else:
                    with open(temporary, "w", encoding="utf-8", newline="", buffering=1 << 20) as stream:
                        written = write(rows, stream, show)
    finally:
        progress.clear()
    if out is not None:
        print_line(f"{store}: {plural(written, rows.unit)}{when} written to {out} ({format})")
    if written == 0:
        print_line(f"no {store} {rows.unit}s recorded{when} (see `storewatch runs --store {store}`)", console=stderr)


def output_format(out: Path | None) -> str:
    """The format an --out file's suffix names."""
    if out is None:
        raise StorewatchError("give --format parquet, csv or jsonl (or --out FILE with one of those suffixes)")
    if out.suffix.lower() not in SUFFIX_FORMATS:
        raise StorewatchError(f"cannot tell the format of {out.name}: give --format parquet, csv or jsonl, or a file ending {', '.join(SUFFIX_FORMATS)}")
    return SUFFIX_FORMATS[out.suffix.lower()]
