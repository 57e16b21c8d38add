"""`storewatch backfill`: build a store's past snapshots from Wayback Machine captures, oldest first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import FAULT_HELP, DbOption, interruptible, stderr, stdout
from crawler.cli.crawl import HealthConfigOption, health_policy, print_summary
from crawler.schedule_config import load_config
from crawler.replay import Snapshot, parse_faults
from crawler.stores import check_store, known_stores
from crawler.wayback import parse_every
from webarchive.location import archive_settings
from storage import queries
from storage.db import open_database
from storage.errors import StorewatchError
from storage.timeutil import parse_instant
from storage.wording import plural


def archive_stores() -> list[str]:
    """Stores whose spider reads the Wayback Machine itself and records one run per capture day."""
    from crawler.runner import spider_class  # Scrapy is imported only by commands that crawl

    return [store for store in known_stores() if spider_class(store).store_config.crawled_via == "archive"]


def backfill_stores() -> list[str]:
    """Archive stores, and web stores whose spider can replay its navigation on archived captures."""
    from crawler.runner import spider_class  # Scrapy is imported only by commands that crawl
    from crawler.timetravel import TimeTravel

    return [store for store in known_stores() if store in archive_stores() or issubclass(spider_class(store), TimeTravel)]


def backfill(
    store: Annotated[str, typer.Argument(help="Store to backfill (see `storewatch stores`)")],
    from_: Annotated[str | None, typer.Option("--from", help="First capture day to record (YYYY-MM-DD); default: the first")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last capture day to record (YYYY-MM-DD); default: the last")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="At most one snapshot per interval: 1D, 2W, 1M, 1Y; default: every capture day")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="A recorded replay of web.archive.org to read instead of the live archive")
    ] = None,
    page_size: Annotated[int, typer.Option("--page-size", help="Rows per CDX index request (the replay holds pages of 10)")] = 10,
    backoff: Annotated[
        float, typer.Option("--backoff", help="Seconds to pause the crawl after a 429, doubled on each repeat")
    ] = 60.0,
    db: DbOption = None,
    config: HealthConfigOption = None,
    fail: Annotated[
        list[str] | None, typer.Option("--fail", metavar="PATTERN=ACTION", help=f"With --replay, rehearse an outage: {FAULT_HELP}")
    ] = None,
    no_archive: Annotated[bool, typer.Option("--no-archive", help="Write no web archive (WARC files) of this backfill")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Scrapy's log")] = False,
) -> None:
    """Record a store's past from the Internet Archive: one run per capture day, observed at that capture.

    Reads the archive's CDX index (one row per content change, resumed page by page), picks the capture days
    between --from and --to (at most one per --every), then the raw captures those days need. Live, requests
    go to web.archive.org one at a time, about one a second, and a 429 pauses the whole crawl. Capture days
    older than the store's latest run are skipped: history is appended in time order. Everything read from the
    archive is kept in WARC files under archive/ beside the database (see "The archive" in the README), from
    which `storewatch reextract` rebuilds these runs, unless --no-archive or STOREWATCH_ARCHIVE=off.

    Example:

    \b
        storewatch backfill modeldepot --from 2018-01-01 --to 2020-12-31 --every 1M
    """
    from crawler.runner import run_crawls  # Scrapy is imported only by commands that crawl

    check_store(store)
    faults = parse_faults(fail or [])
    if faults and not replay:
        raise StorewatchError("--fail needs --replay: fault rules apply to the replay server, never to the live archive")
    if store not in backfill_stores():
        raise StorewatchError(f"{store} is not a web store the archive holds; stores that can be backfilled: {', '.join(backfill_stores())}")
    start = parse_instant(from_, end_of_day=False).date() if from_ else None
    end = parse_instant(to, end_of_day=False).date() if to else None
    if start and end and start > end:
        raise StorewatchError(f"--from {from_} is after --to {to}")
    parse_every(every)
    if page_size < 1 or backoff < 0:
        raise StorewatchError("--page-size must be at least 1 and --backoff at least 0")
    snapshot = Snapshot.load(replay) if replay else None
    if snapshot is not None and snapshot.store != store:
        raise StorewatchError(f"{snapshot.path} is a snapshot of {snapshot.store!r}, not {store!r}")
    engine = open_database(db, writable=True)
    before = {run["id"] for run in queries.list_runs(engine, store)}
    engine.dispose()
    settings = {
        "STOREWATCH_ARCHIVE_FROM": start.isoformat() if start else None,
        "STOREWATCH_ARCHIVE_TO": end.isoformat() if end else None,
        "STOREWATCH_ARCHIVE_EVERY": every,
        "STOREWATCH_CDX_PAGE_SIZE": page_size,
        "STOREWATCH_BACKOFF_SECONDS": backoff,
        "STOREWATCH_TIME_TRAVEL": store not in archive_stores(),
    }
    configured = load_config(config, known_stores=known_stores())
    policy = health_policy(configured, store)
    settings.update(archive_settings(configured.archive, no_archive=no_archive))
    with interruptible():
        run_crawls(
            [(store, snapshot)],
            database_url=db,
            progress=stderr.is_terminal,
            log_level="INFO" if verbose else "WARNING",
            faults=faults,
            extra_settings=settings,
            policies={store: policy},
        )
    engine = open_database(db)
    new_runs = [run for run in queries.list_runs(engine, store) if run["id"] not in before]
    engine.dispose()
    for run in new_runs:
        print_summary(run)
    stdout.print(f"{store}: {plural(len(new_runs), 'snapshot')} recorded from the archive", highlight=False)
    if any(run["status"] == "failed" for run in new_runs):
        raise typer.Exit(1)
