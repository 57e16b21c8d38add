"""`storewatch backfill`: build a store's past snapshots from Wayback Machine captures, or (--git) from the
commits of its source repository, oldest first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import FAULT_HELP, DbOption, ProgressLine, interruptible, print_line, stderr, stdout
from crawler.cli.crawl import HealthConfigOption, health_policy, print_summary
from crawler.schedule_config import load_config
from crawler.replay import Snapshot, parse_faults
from crawler.stores import check_store, known_stores
from crawler.wayback import parse_every
from webarchive.location import archive_settings

OWN_REPOSITORY = "@store"  # what `--git` alone stands for (crawler/cli/app.py fills it in)
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
        str | None,
        typer.Option("--every", help="At most one snapshot per interval: 1D, 2W, 1M, 1Y (with --git also `commit`); default: every capture day or commit"),
    ] = None,
    git: Annotated[
        str | None,
        typer.Option(
            "--git", metavar="[PATH_OR_URL]",
            help="Read the store's git history instead of the archive: a local clone, or a URL to clone (bare, into "
            "$STOREWATCH_GIT_CACHE); alone, the store's own repository is cloned",
        ),
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

    With --git (pytorch_hub, tfhub, onnx_zoo): one run per chosen commit of the store's repository -- the
    branch's head at the end of each --every interval, or every commit touching the store's files with
    `--every commit` -- read with the spider's own extraction, observed at the commit's committer time. A
    backfill that stopped goes on after the last commit it recorded. Backfill before the first scheduled crawl:
    history older than a store's latest run is refused.

    Example:

    \b
        storewatch backfill modeldepot --from 2018-01-01 --to 2020-12-31 --every 1M
        storewatch backfill pytorch_hub --git ~/src/pytorch-hub --from 2019-06-01 --to 2024-04-30 --every 1M
        storewatch backfill tfhub --git https://github.com/tensorflow/tfhub.dev --every commit
    """
    check_store(store)
    if git is not None:
        if replay or fail:
            raise StorewatchError("--git reads a repository: --replay and --fail apply to archive backfills only")
        git_backfill(store, None if git == OWN_REPOSITORY else git, from_, to, every, db, config)
        return
    from crawler.runner import run_crawls  # Scrapy is imported only by commands that crawl

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


def git_backfill(store: str, location: str | None, from_: str | None, to: str | None, every: str | None, db: str | None, config: Path | None) -> None:
    """`backfill --git`: the commits chosen, then one run each (a progress line on a terminal), then the runs that
    changed something or did not end complete."""
    from githistory.backfill import backfill as record_commits, plan
    from githistory.steps import EVERY_COMMIT

    start = parse_instant(from_, end_of_day=False).date() if from_ else None
    end = parse_instant(to, end_of_day=False).date() if to else None
    if start and end and start > end:
        raise StorewatchError(f"--from {from_} is after --to {to}")
    if every != EVERY_COMMIT:
        try:
            parse_every(every)
        except StorewatchError as error:
            raise StorewatchError(f"{str(error).removesuffix(')')}, or commit)") from None
    settings = load_config(config, known_stores=known_stores())
    policy = health_policy(settings, store)
    engine = open_database(db, writable=True)
    try:
        chosen = plan(engine, store, location, start=start, end=end, every=every, on_note=lambda line: print_line(line, console=stderr))
        archive = git_archive(engine, chosen.store, settings.archive, db)
        if chosen.already:
            print_line(f"{store}: {plural(chosen.already, 'commit')} recorded already; going on after them", console=stderr)

        line = ProgressLine(f"{store}:")

        def show(progress) -> None:
            summary = progress.summary
            line.show(f"{progress.done}/{progress.total} commits, at {progress.commit.sha[:12]} of {summary.observed_at:%Y-%m-%d} "
                      f"({summary.models_seen} models)")

        try:
            summaries = record_commits(engine, chosen, policy=policy, on_run=show, archive=archive)
        except KeyboardInterrupt:
            line.clear()
            print_line("interrupted: the run being recorded is closed failed, those before it stay; the same command goes on after them", console=stderr)
            raise typer.Exit(130) from None
        line.clear()
    finally:
        engine.dispose()
    for summary in summaries:
        if summary.status != "complete" or changed_anything(summary):
            print_summary(summary.as_dict())
    quiet = sum(1 for summary in summaries if summary.status == "complete" and not changed_anything(summary))
    stdout.print(
        f"{store}: {plural(len(summaries), 'snapshot')} recorded from git ({quiet} complete with no change not listed above)",
        highlight=False,
    )
    if any(summary.status == "failed" for summary in summaries):
        raise typer.Exit(1)


def changed_anything(summary) -> bool:
    return bool(summary.added or summary.changed or summary.removed or summary.returned)


def git_archive(engine, store, configured: dict, db: str | None):
    """The archive a git backfill writes (its blobs as WARC resource records), as a crawl's: on unless
    $STOREWATCH_ARCHIVE or the config's [archive] turns it off; None when off."""
    from githistory.archive import GitArchive
    from webarchive.location import ARCHIVE_DIR_ENV, ARCHIVE_ENV, archive_folder, archiving_on

    if not archiving_on(None if os.environ.get(ARCHIVE_ENV) else configured.get("enabled")):
        return None
    return GitArchive(engine, archive_folder(None if os.environ.get(ARCHIVE_DIR_ENV) else configured.get("dir"), db), store)
