"""`storewatch crawl`: crawl a store live, or replay recorded snapshots of it into the database."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import FAULT_HELP, DbOption, interruptible, print_line, stderr, stdout
from crawler.crawl_process import PARENT_ENV
from crawler.replay import Snapshot, parse_faults
from crawler.schedule_config import ServiceConfig, load_config
from crawler.stores import check_store, known_stores
from storage.errors import StorewatchError
from storage.db import open_database
from storage.wording import plural
from webarchive.location import archive_settings

HealthConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file with the store's crawl-health thresholds, scope and [archive] settings [default: $STOREWATCH_CONFIG, ./storewatch.toml, or the shipped one]"),
]


def crawl(
    store: Annotated[str, typer.Argument(help="Store to crawl (see `storewatch stores`)")],
    replay: Annotated[
        list[str] | None,
        typer.Option(
            "--replay",
            help="Replay this snapshot directory, archived run (run:N) or WARC file (FILE.warc.gz) instead of the live store; repeat for a series",
        ),
    ] = None,
    db: DbOption = None,
    config: HealthConfigOption = None,
    fail: Annotated[
        list[str] | None,
        typer.Option("--fail", metavar="PATTERN=ACTION", help=f"With --replay, rehearse an outage: {FAULT_HELP}"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Scrapy's log")] = False,
    no_archive: Annotated[bool, typer.Option("--no-archive", help="Write no web archive (WARC files) of this crawl")] = False,
) -> None:
    """Crawl STORE once and record the run: live, or from recorded snapshots (oldest first).

    Each snapshot is recorded as observed at the date in its SNAPSHOT.json; an archived run (`run:N`) or a
    WARC file is replayed as observed at its original date. Every crawl writes its responses as WARC files
    (see "The archive" in the README) unless --no-archive or STOREWATCH_ARCHIVE=off. A snapshot older than the
    store's latest run is refused: history is appended in time order. Only one process writes a store at
    a time: while another crawls it, this one stops at once (exit status 2). Exit status 1 when a run
    failed or is suspect, 130 when interrupted (the run is recorded partial).

    Example:

    \b
        storewatch crawl pytorch_hub --replay snapshots/pytorch_hub/2019-06-30
        storewatch crawl pytorch_hub --replay run:1
        storewatch crawl onnx_zoo --replay snapshots/onnx_zoo/2023-12-26 --fail 'raw.githubusercontent.com/onnx/*=json:[]'
    """
    from crawler.runner import check_snapshots, run_crawls  # Scrapy is imported only by commands that crawl

    check_store(store)
    faults = parse_faults(fail or [])
    if faults and not replay:
        raise StorewatchError("--fail needs --replay: fault rules apply to the replay server, never to a live store")
    settings = load_config(config, known_stores=known_stores())
    policy = health_policy(settings, store)
    notifier = run_notifier(settings)
    engine = open_database(db, writable=True)  # a read-only database fails now, not when the run is recorded
    with ExitStack() as archived:  # snapshots read from the archive live in temporary directories until the end
        snapshots = [replay_source(value, engine, archived) for value in replay or []]
        if snapshots:
            snapshots = check_snapshots(store, snapshots, engine)
        with interruptible():
            summaries = run_crawls(
                [(store, snapshot) for snapshot in snapshots] if snapshots else [(store, None)],
                database_url=db,
                on_result=print_summary,
                progress=stderr.is_terminal,
                log_level="INFO" if verbose else "ERROR",
                faults=faults,
                policies={store: policy},
                scopes={store: settings.scopes.get(store, {})},
                extra_settings=archive_settings(settings.archive, no_archive=no_archive),
            )
    if notifier is not None:
        for summary in summaries:
            if summary.get("run_id") is not None:  # an archive crawl that found nothing new recorded no run
                notifier.run_finished(engine, summary["run_id"])
    if any(summary["status"] in ("failed", "suspect") for summary in summaries) or any(s.incomplete for s in snapshots):
        raise typer.Exit(1)


def replay_source(value: str, engine, archived: ExitStack) -> Snapshot:
    """A `--replay` value as a snapshot: a directory, an archived run (`run:N`), or a WARC file.

    A damaged WARC file is read up to the damage: one `error:` line per damage (file and byte offset), and
    the snapshot replays what could be read, its run recorded `partial`."""
    from webarchive.reader import file_snapshot, run_snapshot

    if value.startswith("run:"):
        number = value.removeprefix("run:")
        if not number.isdigit():
            raise StorewatchError(f"--replay {value}: run:N takes a run number (see `storewatch runs`)")
        written = archived.enter_context(run_snapshot(engine, int(number)))
    elif value.endswith(".warc.gz"):
        written = archived.enter_context(file_snapshot(Path(value), engine))
    else:
        return Snapshot.load(value)
    if written.crawl_settings is not None:
        raise StorewatchError(
            f"--replay {value}: the web archive of a backfill (one run per capture day), not of one crawl; "
            f"re-extract its runs with `storewatch reextract {written.store} --into DB_URL`"
        )
    for problem in written.problems:
        print_line(f"error: {problem}", console=stderr)
    return Snapshot.load(written.path)


def health_policy(settings: ServiceConfig, store: str):
    """The store's crawl-health thresholds from the config, its drift default from its spider."""
    from crawler.runner import spider_class

    return settings.health_policy(store, listing_can_drift=spider_class(store).store_config.listing_can_drift)


def run_notifier(settings: ServiceConfig):
    """Who to tell about the runs, from the config's `[notify]` section; None without one, or under a scheduler
    (which tells once it has settled the run)."""
    if os.environ.get(PARENT_ENV) or settings.notify is None:
        return None
    from notifications import Notifier

    return Notifier(settings.notify, warn=lambda line: print_line(f"warning: {line}", console=stderr))


def print_summary(summary: dict) -> None:
    """One line per run: when, how it ended, what changed."""
    colour = {"complete": "green", "partial": "yellow", "suspect": "magenta", "failed": "red"}.get(summary["status"], "white")
    absent = f"  ?{summary['absent']} absent" if summary.get("absent") else ""
    # a counter tick opens no version: what the run recorded of the store's counters is said apart
    counters = f"  {plural(summary['metrics'], 'counter value')} recorded" if summary.get("metrics") else ""
    line = (
        f"{summary['store']} {summary['observed_at'][:10]}  [{colour}]{summary['status']:<8}[/]"
        f" {summary['models_seen']:>5} seen  +{summary['added']} added  ~{summary['changed']} changed"
        f"  -{summary['removed']} removed  ^{summary['returned']} returned{absent}  {plural(summary['errors'], 'error')}{counters}"
    )
    stdout.print(line, highlight=False)
    if summary.get("error_summary"):
        print_line(f"    {summary['error_summary']}")
