"""`storewatch demo`: the scheduler replays every shipped snapshot not yet recorded, each on its date (simulated clock)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, print_line, stdout
from crawler.cli.crawl import print_summary
from crawler.replay import SNAPSHOT_FILE, Snapshot
from crawler.shipped import shipped
from crawler.stores import known_stores
from storage import queries
from storage.db import open_database
from storage.errors import StorewatchError
from storage.timeutil import isoformat
from storage.writer import latest_observed_at

SHIPPED_SNAPSHOTS = shipped("snapshots")


def pending_snapshots(root: Path, database_url: str | None) -> list[tuple[str, Snapshot]]:
    """(store, snapshot) for every snapshot under root/<store>/ not yet recorded.

    Recorded means observed at or before the store's latest run, or replayed before: an archive replay
    (modeldepot's) records runs dated at its capture days, not at the snapshot's own date.
    """
    engine = open_database(database_url, writable=True)
    jobs = []
    for store in known_stores():
        directories = sorted((root / store).glob(f"*/{SNAPSHOT_FILE}"))
        snapshots = sorted((Snapshot.load(path.parent) for path in directories), key=lambda s: s.observed_at)
        latest = latest_observed_at(engine, store)
        sources = [run["source"] or "" for run in queries.list_runs(engine, store) if run["status"] != "failed"]

        def recorded(snapshot: Snapshot) -> bool:
            if latest is not None and snapshot.observed_at <= latest:
                return True
            return any(source.startswith(snapshot.source) for source in sources)

        jobs += [(store, snapshot) for snapshot in snapshots if not recorded(snapshot)]
    engine.dispose()
    return jobs


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
) -> None:
    """Replay the recorded snapshots shipped with storewatch into the database through the scheduler.

    The scheduler service runs on a simulated clock: each snapshot is crawled, in its own process, on the
    date it was observed, stores interleaved in time order. Snapshots already recorded are skipped, so
    running it again does nothing new.

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

    first, last = min(s.observed_at for _, s in jobs), max(s.observed_at for _, s in jobs)
    stdout.print(
        f"replaying {len(jobs)} snapshots of {len({store for store, _ in jobs})} stores through the scheduler,"
        f" its clock running from {first:%Y-%m-%d} to {last:%Y-%m-%d}",
        highlight=False,
    )
    run_demo(jobs, snapshots, db, on_run=print_run)

    from crawler.cli.report import write_demo_report

    write_demo_report(db)
