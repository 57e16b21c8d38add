"""`storewatch demo`: the scheduler replays every shipped snapshot not yet recorded, each on its date (simulated clock)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, print_line, stdout
from crawler.cli.crawl import print_summary
from crawler.replay import SNAPSHOT_FILE, Snapshot
from crawler.shipped import shipped
from crawler.stores import known_stores
from storage.db import open_database
from storage.errors import StorewatchError
from storage.timeutil import isoformat
from storage.writer import latest_observed_at
from webarchive.location import ARCHIVE_ENV

SHIPPED_SNAPSHOTS = shipped("snapshots")


def pending_snapshots(root: Path, database_url: str | None) -> list[tuple[str, Snapshot]]:
    """(store, snapshot) for every snapshot under root/<store>/ not yet recorded, that is observed after the
    store's latest run; an archive replay (modeldepot's) counts once per capture day (`Snapshot.days`)."""
    engine = open_database(database_url, writable=True)
    jobs = []
    for store in known_stores():
        latest = latest_observed_at(engine, store)
        for path in sorted((root / store).glob(f"*/{SNAPSHOT_FILE}")):
            jobs += [(store, day) for day in Snapshot.load(path.parent).days() if latest is None or day.observed_at > latest]
    engine.dispose()
    return sorted(jobs, key=lambda job: job[1].observed_at)


def print_run(run: dict, note: str) -> None:
    """The demo's line per run, as `storewatch crawl` prints it."""
    print_summary({**run, "observed_at": isoformat(run["observed_at"])})
    if note:
        print_line(f"    {note.removeprefix('; ')}")


def demo(
    snapshots: Annotated[
        Path, typer.Option("--snapshots", help="Folder of <store>/<date>/ snapshot directories")
    ] = SHIPPED_SNAPSHOTS,
    db: DbOption = None,
    no_archive: Annotated[bool, typer.Option("--no-archive", help="Write no web archive (WARC files) of the demo's crawls")] = False,
) -> None:
    """Replay the recorded snapshots shipped with storewatch into the database through the scheduler.

    The scheduler service runs on a simulated clock: each snapshot is crawled, in its own process, on the
    date it was observed, stores interleaved in time order. Snapshots already recorded are skipped, so
    running it again does nothing new. Each crawl writes its WARC files under archive/ beside the database
    unless --no-archive.

    Example:

    \b
        storewatch demo
        storewatch models pytorch_hub --as-of 2021-01-01
    """
    if not snapshots.is_dir():
        raise StorewatchError(f"snapshot folder not found: {snapshots}")
    jobs = pending_snapshots(snapshots, db)
    if not jobs:
        stdout.print("every shipped snapshot is already recorded; see `storewatch runs`", highlight=False)
        from crawler.cli.report import write_demo_report

        write_demo_report(db)
        return
    from scheduler import run_demo

    if no_archive:  # the scheduler's crawl processes inherit it
        os.environ[ARCHIVE_ENV] = "off"

    first, last = min(s.observed_at for _, s in jobs), max(s.observed_at for _, s in jobs)
    stdout.print(
        f"replaying {len(jobs)} snapshots of {len({store for store, _ in jobs})} stores through the scheduler,"
        f" its clock running from {first:%Y-%m-%d} to {last:%Y-%m-%d}",
        highlight=False,
    )
    run_demo(jobs, snapshots, db, on_run=print_run)

    from crawler.cli.report import write_demo_report

    write_demo_report(db)
