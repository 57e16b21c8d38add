"""`storewatch report`: the stores' histories, element coverage and cross-store view as HTML, Markdown and JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, database, stdout
from crawler.report import build_report, write_report
from crawler.report.render import JSON_FILE, MARKDOWN_FILE
from crawler.stores import check_store, known_stores
from storage.coverage import stores_with_history
from storage.errors import StorewatchError
from storage.timeutil import parse_instant


def report(
    out: Annotated[Path, typer.Option("--out", help="Folder to write report.html, report.md, report.json, charts/ and tables/ into")],
    store: Annotated[list[str] | None, typer.Option("--store", help="Only these stores (repeat); default: every store with history")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only history after this date (end of that day, UTC) or ISO instant")] = None,
    db: DbOption = None,
) -> None:
    """Write a report of the stores: models over time with the additions, removals and changes of each run,
    most-changed elements, notable events, the latest changes grouped by pattern, the models whose counters
    (downloads, likes, reviews, stars...) rose most, the element coverage matrix
    and its history, churn, how long models stay listed, changes per element per run, the 2019 study's
    comparison and the models found in more than one store.

    The HTML page is self-contained (inline SVG charts, no scripts or external files); report.md and
    report.json hold the same content, and tables/ every table as CSV.

    Example:

    \b
        storewatch report --out reports --store pytorch_hub --store onnx_zoo --since 2021-01-01
    """
    for name in store or []:
        check_store(name)
    path = write_store_report(db, out, store or None, parse_instant(since) if since else None)
    stdout.print(f"report written to {path} (also {MARKDOWN_FILE}, {JSON_FILE})", highlight=False, markup=False)


def write_store_report(db: str | None, out: Path, stores: list[str] | None = None, since=None) -> Path:
    """Build and write the report for `stores` (every store with history when None); the HTML file's path."""
    if out.exists() and not out.is_dir():
        raise StorewatchError(f"--out must be a folder: {out} is a file")
    engine = database(db)
    stores = stores or [name for name in stores_with_history(engine) if name in known_stores()]
    if not stores:
        raise StorewatchError("no store has recorded history yet (see `storewatch demo`)")
    from crawler.runner import spider_class  # store titles and model pages are declared beside the spiders

    configs = {name: spider_class(name).store_config for name in stores}
    titles = {name: config.title for name, config in configs.items()}
    pages = {name: config.model_page for name, config in configs.items()}
    try:
        content = build_report(engine, stores, since=since, titles=titles, model_pages=pages, counters={name: dict(config.counters) for name, config in configs.items()})
        return write_report(content, out).resolve()
    except OSError as error:
        raise StorewatchError(f"cannot write the report into {out}: {error.strerror}") from None


DEMO_REPORT_DIR = Path("reports")


def write_demo_report(db: str | None) -> None:
    """The end of `storewatch demo`: the report of every store with history, written to ./reports/."""
    path = write_store_report(db, DEMO_REPORT_DIR)
    stdout.print(f"report: {path}", highlight=False, markup=False)
