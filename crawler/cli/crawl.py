"""`storewatch crawl`: crawl a store live, or replay recorded snapshots of it into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, print_line, stderr, stdout
from crawler.replay import Snapshot, parse_faults
from crawler.stores import check_store
from storage.db import open_database


def crawl(
    store: Annotated[str, typer.Argument(help="Store to crawl (see `storewatch stores`)")],
    replay: Annotated[
        list[Path] | None,
        typer.Option("--replay", help="Replay this snapshot directory instead of the live store; repeat for a series"),
    ] = None,
    db: DbOption = None,
    fail: Annotated[
        list[str] | None,
        typer.Option("--fail", help="With --replay: answer requests matching PATTERN with STATUS (PATTERN=STATUS)", hidden=True),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Scrapy's log")] = False,
) -> None:
    """Crawl STORE once and record the run: live, or from recorded snapshots (oldest first).

    Each snapshot is recorded as observed at the date in its SNAPSHOT.json. A snapshot older than the
    store's latest run is refused: history is appended in time order.

    Example:

    \b
        storewatch crawl pytorch_hub --replay snapshots/pytorch_hub/2019-06-30
    """
    from crawler.runner import check_snapshots, run_crawls  # Scrapy is imported only by commands that crawl

    check_store(store)
    snapshots = [Snapshot.load(path) for path in replay or []]
    open_database(db, writable=True).dispose()  # a read-only database fails now, not when the run is recorded
    if snapshots:
        snapshots = check_snapshots(store, snapshots, db)
    summaries = run_crawls(
        [(store, snapshot) for snapshot in snapshots] if snapshots else [(store, None)],
        database_url=db,
        on_result=print_summary,
        progress=stderr.is_terminal,
        log_level="INFO" if verbose else "ERROR",
        faults=parse_faults(fail or []),
    )
    if any(summary["status"] == "failed" for summary in summaries):
        raise typer.Exit(1)


def print_summary(summary: dict) -> None:
    """One line per run: when, how it ended, what changed."""
    colour = {"complete": "green", "partial": "yellow", "failed": "red"}.get(summary["status"], "white")
    line = (
        f"{summary['store']} {summary['observed_at'][:10]}  [{colour}]{summary['status']:<8}[/]"
        f" {summary['models_seen']:>5} seen  +{summary['added']} added  ~{summary['changed']} changed"
        f"  -{summary['removed']} removed  ^{summary['returned']} returned  {summary['errors']} errors"
    )
    stdout.print(line, highlight=False)
    if summary.get("error_summary"):
        print_line(f"    {summary['error_summary']}")
