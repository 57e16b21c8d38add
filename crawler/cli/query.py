"""Commands that read history: `runs`, `models`, `history`, `metrics`, `stores`."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from crawler.cli.common import (
    DbOption,
    cell_text,
    database,
    format_option,
    print_csv,
    print_json,
    print_json_stream,
    print_jsonl,
    print_line,
    print_rows,
    print_table,
    short_instant,
    stderr,
    streamed_output,
)
from crawler.elements import ELEMENTS
from crawler.stores import check_store, known_stores
from storage import metrics as counters
from storage import queries
from storage.coverage import coverage_at
from storage.models import RUN_STATUSES
from storage.timeutil import parse_instant
from storage.wording import plural

RUN_COLUMNS = ["id", "store", "observed_at", "status", "models_seen", "added", "changed", "removed", "returned", "absent", "errors"]


RunStatus = Enum("RunStatus", {status: status for status in RUN_STATUSES}, type=str)  # choices for --status
MODEL_COLUMNS = ["name", "provider", "version", "task", "license"]
HISTORY_FIELDS = ["valid_from", "valid_to", "change", "ended_by", "changes", "content_hash"]
METRIC_FIELDS = ["metric", "observed_at", "run_id", "value", "change"]


def runs(
    store: Annotated[str | None, typer.Option("--store", help="Only this store's runs")] = None,
    status: Annotated[RunStatus | None, typer.Option("--status", help="Only runs with this status")] = None,
    format: Annotated[str, format_option("text", "json", "csv")] = "text",
    db: DbOption = None,
) -> None:
    """List crawl runs in the order they were observed, with what each one changed.

    `absent` counts models missing from a complete run whose removal waits for confirmation; a suspect
    run's error summary says why it was not believed and what it holds for `storewatch accept`.

    Example:

    \b
        storewatch runs --store onnx_zoo --format json
        storewatch runs --status suspect --format csv
    """
    if store:
        check_store(store)
    rows = queries.list_runs(database(db), store, status.value if status else None)
    if format == "text":
        print_table([{**row, "observed_at": short_instant(row["observed_at"])} for row in rows], RUN_COLUMNS + ["error_summary"])
    else:
        print_rows(format, rows, list(queries.RUN_FIELDS))


def models(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date (end of that day, UTC) or ISO instant; default: now"),
    ] = None,
    format: Annotated[str, format_option("text", "json", "csv", "jsonl")] = "text",
    raw: Annotated[
        bool, typer.Option("--raw", help="With --format csv: cells exactly as stored (no quote before a leading = + - @ or tab)")
    ] = False,
    db: DbOption = None,
) -> None:
    """List a store's models as they were at a date: model_id and information elements.

    `json`, `jsonl` (a JSON object a line) and `csv` are written as the rows are read, so a store of millions of
    models lists in flat memory; CSV has a column per element the store's models showed at that date.

    Example:

    \b
        storewatch models pytorch_hub --as-of 2021-01-01 --format json
        storewatch models onnx_zoo --format jsonl > onnx_zoo.jsonl
    """
    check_store(store)
    at = parse_instant(as_of) if as_of else None
    engine = database(db)
    if format == "text":
        rows = queries.models_as_of(engine, store, at)
        shown = [key for key in MODEL_COLUMNS if any(key in row for row in rows)]
        print_table(rows, ["model_id", *shown], title=f"{store}: {plural(len(rows), 'model')}")
        if not rows:
            print_line(f"no {store} models recorded as of {as_of or 'now'} (see `storewatch runs --store {store}`)", console=stderr)
        return
    with streamed_output():
        if format == "jsonl":
            print_jsonl(queries.iter_model_elements_json(engine, store, at))
        elif format == "csv":  # the columns come first: the store's coverage names the elements its models show
            columns = ["model_id", *element_columns([coverage_at(engine, store, at).shown()])]
            print_csv(queries.iter_models_as_of(engine, store, at), columns, raw=raw)
        else:
            print_json_stream(queries.iter_models_as_of(engine, store, at))


def history(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    model_id: Annotated[str, typer.Argument(help="The model's id in that store (see `storewatch models STORE`)")],
    format: Annotated[str, format_option("text", "json", "csv")] = "text",
    db: DbOption = None,
) -> None:
    """Show every version of one model: when it held, how it began and ended, and each element that changed.

    The store's counters (downloads, likes...) never open a version: the text output lists their moves in a
    table of their own; `storewatch metrics` prints them in every format.

    Example:

    \b
        storewatch history pytorch_hub pytorch_vision_resnet
    """
    check_store(store)
    engine = database(db)
    versions = queries.model_history(engine, store, model_id)
    if format != "text":
        # CSV: a row per version, its changes as JSON and a column per element (as `models` has)
        rows = [{**version, **version["elements"]} for version in versions]
        print_rows(format, rows, [*HISTORY_FIELDS, *element_columns(version["elements"] for version in versions)], data=versions)
        return
    rows = [
        {
            "from": short_instant(version["valid_from"]),
            "to": short_instant(version["valid_to"]) or "(current)",
            "began": version["change"],
            "ended": version["ended_by"] or "",
            "what changed": "\n".join(
                f"{key}: {cell_text(change['old'], 60)} → {cell_text(change['new'], 60)}"
                for key, change in version["changes"].items()
            )
            or ("(raw record only)" if version["change"] == "changed" else ""),
        }
        for version in versions
    ]
    print_table(rows, ["from", "to", "began", "ended", "what changed"], title=f"{store} / {model_id}")
    moves = counters.metric_series(engine, store, model_id)
    if moves:
        print_table(metric_rows(moves), METRIC_COLUMNS, title=f"{store} / {model_id}: counters (recorded when they moved)")


METRIC_COLUMNS = ["metric", "observed", "value", "change"]


def metric_rows(series: list[dict]) -> list[dict]:
    """A counter series as table rows: the instant as a date when it falls at midnight, the change signed."""
    return [
        {
            "metric": row["metric"],
            "observed": short_instant(row["observed_at"]),
            "value": row["value"],
            "change": "" if row["change"] is None else f"{row['change']:+}",
        }
        for row in series
    ]


def metrics(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    model_id: Annotated[str, typer.Argument(help="The model's id in that store (see `storewatch models STORE`)")],
    metric: Annotated[str | None, typer.Option("--metric", help="Only this counter (downloads, likes...; see the store table)")] = None,
    format: Annotated[str, format_option("text", "json", "csv")] = "text",
    db: DbOption = None,
) -> None:
    """Show the series of one model's counters (downloads, likes, stars...): a value each time one moved.

    A counter is recorded only when a run saw it move, so each value holds until the next row.

    Example:

    \b
        storewatch metrics modeldepot hellochick/icnet --metric stars --format csv
    """
    check_store(store)
    series = counters.metric_series(database(db), store, model_id, metric)
    if format != "text":
        print_rows(format, series, METRIC_FIELDS)
        return
    print_table(metric_rows(series), METRIC_COLUMNS, title=f"{store} / {model_id}: counters")
    if not series:
        print_line(f"no counters recorded for {model_id} (see the store table for the counters {store} shows)", console=stderr)


def element_columns(records) -> list[str]:
    """The element keys any of `records` shows, in the taxonomy's order: a table's element columns."""
    present = {key for record in records for key in record}
    return [key for key in ELEMENTS if key in present]


def stores(format: Annotated[str, format_option("text", "json", "csv")] = "text") -> None:
    """List the stores storewatch can crawl: how each is crawled, its identity rule, the elements it provides.

    Example:

    \b
        storewatch stores
        storewatch stores --format json
    """
    from crawler.runner import spider_class

    rows = []
    for name in known_stores():
        config = spider_class(name).store_config
        rows.append({"store": name, "title": config.title, "crawled_via": config.crawled_via, "model_id": config.identity, "elements": list(config.elements)})
    if format == "json":
        print_json(rows)
    else:  # a table cell and a CSV cell hold the element keys as one list
        listed = [{**row, "elements": ", ".join(row["elements"])} for row in rows]
        print_rows(format, listed, ["store", "title", "crawled_via", "model_id", "elements"], limit=None)
