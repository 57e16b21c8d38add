"""Commands that read history: `runs`, `models`, `history`, `stores`."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from crawler.cli.common import (
    DbOption,
    TableJsonCsv,
    TableOrJson,
    cell_text,
    database,
    print_csv,
    print_json,
    print_line,
    print_table,
    short_instant,
    stderr,
)
from crawler.elements import ELEMENTS
from crawler.stores import check_store, known_stores
from storage import queries
from storage.models import RUN_STATUSES
from storage.timeutil import parse_instant

RUN_COLUMNS = ["id", "store", "observed_at", "status", "models_seen", "added", "changed", "removed", "returned", "absent", "errors"]


RunStatus = Enum("RunStatus", {status: status for status in RUN_STATUSES}, type=str)  # choices for --status
MODEL_COLUMNS = ["name", "provider", "version", "task", "license"]


def runs(
    store: Annotated[str | None, typer.Option("--store", help="Only this store's runs")] = None,
    status: Annotated[RunStatus | None, typer.Option("--status", help="Only runs with this status")] = None,
    format: Annotated[TableOrJson, typer.Option("--format", help="Output format")] = TableOrJson.table,
    db: DbOption = None,
) -> None:
    """List crawl runs in the order they were observed, with what each one changed.

    `absent` counts models missing from a complete run whose removal waits for confirmation; a suspect
    run's error summary says why it was not believed and what it holds for `storewatch accept`.

    Example:

    \b
        storewatch runs --store onnx_zoo --format json
        storewatch runs --status suspect
    """
    if store:
        check_store(store)
    rows = queries.list_runs(database(db), store, status.value if status else None)
    if format is TableOrJson.json:
        print_json(rows)
    else:
        table_rows = [{**row, "observed_at": short_instant(row["observed_at"])} for row in rows]
        print_table(table_rows, RUN_COLUMNS + ["error_summary"])


def models(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date (end of that day, UTC) or ISO instant; default: now"),
    ] = None,
    format: Annotated[TableJsonCsv, typer.Option("--format", help="Output format")] = TableJsonCsv.table,
    raw: Annotated[
        bool, typer.Option("--raw", help="With --format csv: cells exactly as stored (no quote before a leading = + - @ or tab)")
    ] = False,
    db: DbOption = None,
) -> None:
    """List a store's models as they were at a date: model_id and information elements.

    Example:

    \b
        storewatch models pytorch_hub --as-of 2021-01-01 --format json
    """
    check_store(store)
    at = parse_instant(as_of) if as_of else None
    rows = queries.models_as_of(database(db), store, at)
    if format is TableJsonCsv.json:
        print_json(rows)
    elif format is TableJsonCsv.csv:
        present = {key for row in rows for key in row}
        print_csv(rows, ["model_id"] + [key for key in ELEMENTS if key in present], raw=raw)
    else:
        shown = [key for key in MODEL_COLUMNS if any(key in row for row in rows)]
        print_table(rows, ["model_id", *shown], title=f"{store}: {len(rows)} models")
        if not rows:
            print_line(f"no {store} models recorded as of {as_of or 'now'} (see `storewatch runs --store {store}`)", console=stderr)


def history(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    model_id: Annotated[str, typer.Argument(help="The model's id in that store (see `storewatch models STORE`)")],
    format: Annotated[TableOrJson, typer.Option("--format", help="Output format")] = TableOrJson.table,
    db: DbOption = None,
) -> None:
    """Show every version of one model: when it held, how it began and ended, and each element that changed.

    Example:

    \b
        storewatch history pytorch_hub pytorch_vision_resnet
    """
    check_store(store)
    versions = queries.model_history(database(db), store, model_id)
    if format is TableOrJson.json:
        print_json(versions)
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


def stores() -> None:
    """List the stores storewatch can crawl, how, and the identity rule of each.

    Example:

    \b
        storewatch stores
    """
    rows = []
    from crawler.runner import spider_class

    for name in known_stores():
        config = spider_class(name).store_config
        rows.append({"store": name, "title": config.title, "crawled via": config.crawled_via, "model_id": config.identity})
    print_table(rows, ["store", "title", "crawled via", "model_id"])
