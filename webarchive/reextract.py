"""Re-extraction: a store's archived runs replayed through today's spiders, recorded again at their dates.

Each run's WARC files are written out as a replay snapshot (webarchive/reader.py) just before its crawl and
removed right after it, so re-extracting a long history needs the room of one run, not of all of them. The
crawl is the ordinary replay path (run_crawls), so the rebuilt history obeys every writer rule the original
did; it is recorded into another database, then compared with the original version by version
(storage/history_compare.py), and with `in_place` swapped in (storage/history_swap.py) only once complete.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import groupby
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crawler.replay import Snapshot
from storage import queries
from storage.archive_index import CrawlCapture, crawl_capture, run_archive_files
from storage.db import open_database
from storage.errors import StorewatchError
from storage.history_compare import HistoryDifference, compare_histories
from storage.health import HealthPolicy
from storage.history_swap import replace_store_history
from storage.lock import acquire_store_lock
from storage.models import RECORDED_STATUSES
from storage.timeutil import parse_instant
from webarchive.reader import write_run_snapshot


@dataclass
class Reextraction:
    """What a re-extraction did: the runs it rebuilt, those it could not, and how the history changed."""

    store: str
    runs: list[dict[str, Any]]  # the original runs re-extracted, oldest first
    skipped: list[str] = field(default_factory=list)  # one line per run that has no archive to re-extract
    damaged: list[str] = field(default_factory=list)  # damaged WARC files read up to the damage
    difference: HistoryDifference | None = None
    replaced: bool = False
    refused: str | None = None  # why --in-place left the original history as it was


def archived_runs(engine: Engine, store: str, since: datetime | None, until: datetime | None) -> tuple[list[dict], list[str]]:
    """The store's recorded runs observed in [since, until] that have a web archive, and a note for each that has none."""
    chosen, skipped = [], []
    for run in queries.list_runs(engine, store):
        observed = _instant(run)
        if run["status"] not in RECORDED_STATUSES or (since and observed < since) or (until and observed > until):
            continue
        if run_archive_files(engine, run["id"]):
            chosen.append(run)
        else:
            skipped.append(f"run {run['id']} ({run['observed_at'][:10]}): no web archive (crawled before archiving, or with it off)")
    return chosen, skipped


def reextract(
    engine: Engine,
    store: str,
    into: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    in_place: bool = False,
    on_result: Callable[[dict[str, Any]], None] = lambda summary: None,
    progress: bool = False,
    policy: HealthPolicy | None = None,
    scope: dict[str, Any] | None = None,
) -> Reextraction:
    """Re-extract `store`'s archived runs into the database at `into` (which must hold no run of the store) and
    compare; with `in_place`, then replace the original history with the rebuilt one, in one transaction, holding
    the store's writer lock throughout -- unless the rebuild is unsound (see unsound_rebuild: `refused` says why).

    `policy` and `scope` must be those the store was crawled with (the config's): how many runs confirm a
    removal, for one, decides when the rebuilt history removes a model."""
    from crawler.runner import run_crawls  # Scrapy is imported only when a crawl runs
    from githistory.reextract import is_backfilled, reextract_backfilled

    # In place, nothing else may record a run of the store until the swap is done (the scheduler, say).
    lock = acquire_store_lock(engine, store) if in_place else None
    try:
        runs, skipped = archived_runs(engine, store, since, until)
        result = Reextraction(store, runs, skipped)
        if not runs:
            raise StorewatchError(f"{store}: no archived run to re-extract" + (f" ({skipped[0]}...)" if skipped else ""))
        if in_place and (skipped or since or until):
            raise StorewatchError(
                f"{store}: --in-place replaces the whole history, so every recorded run must be re-extracted"
                + (f"; {len(skipped)} have no archive" if skipped else "; drop --from/--to")
            )
        segments = [(backfilled, list(segment)) for backfilled, segment in groupby(runs, key=is_backfilled)]
        if sum(not backfilled for backfilled, _ in segments) > 1:  # one process runs one series of crawls (Twisted)
            raise StorewatchError(
                f"{store}: runs backfilled from git sit between crawled runs; re-extract the spans on either side "
                "of them (--from/--to), each into a database of its own"
            )
        target = open_database(into, writable=True)
        try:
            if queries.list_runs(target, store):
                raise StorewatchError(f"{store}: the database to re-extract into already holds runs of the store; give an empty one")
            with tempfile.TemporaryDirectory(prefix="storewatch-reextract-") as parent:
                for backfilled, segment in segments:  # in time order: runs from git, crawled runs
                    if backfilled:  # read back from their WARC resource records, extracted without a crawl
                        reextract_backfilled(engine, target, segment, policy=policy, on_result=on_result)
                        continue
                    groups = {_replay_name(group): group for group in replay_groups(engine, segment)}
                    run_crawls(
                        [(store, _pending_snapshot(Path(parent), name, group)) for name, group in groups.items()],
                        database_url=into,
                        on_result=on_result,
                        progress=progress,
                        policies={store: policy} if policy else None,
                        scopes={store: scope} if scope else None,
                        extra_settings={"STOREWATCH_ARCHIVE": False},  # the archive being read is the record
                        prepare=lambda snapshot: _written(engine, snapshot, groups[snapshot.path.name], result.damaged),
                    )
            # A span is compared between the instants of its first and last runs, as the rebuilt history holds it.
            span = (_instant(runs[0]), _instant(runs[-1])) if since or until else (None, None)
            result.difference = compare_histories(engine, target, store, *span)
            if in_place:
                result.refused = unsound_rebuild(runs, queries.list_runs(target, store), result.damaged)
                if result.refused is None:
                    replace_store_history(engine, target, store, [run["id"] for run in runs])
                    result.replaced = True
        finally:
            target.dispose()
    finally:
        if lock is not None:
            lock.release()
    return result


def unsound_rebuild(originals: list[dict], rebuilt: list[dict], damaged: list[str]) -> str | None:
    """Why a rebuilt history must not replace the original (None: it may): a run rebuilt from a damaged archive,
    or one that did not end as its original did (failed, partial, or held as suspect where the original was not)."""
    if damaged:
        return f"an archive file was damaged ({damaged[0]})"
    if len(rebuilt) != len(originals):
        return f"{len(rebuilt)} runs were rebuilt for {len(originals)} originals"
    for original, run in zip(originals, rebuilt):
        if run["observed_at"] != original["observed_at"] or run["status"] != original["status"]:
            return f"run {original['id']} ({original['observed_at']}, {original['status']}) was rebuilt {run['status']}"
    return None


def _instant(run: dict[str, Any]) -> datetime:
    return parse_instant(run["observed_at"], end_of_day=False)


@dataclass(frozen=True)
class ReplayedRun:
    """An original run, and where it sits in its backfill's crawl when a backfill recorded it with others."""

    run: dict[str, Any]
    crawl: CrawlCapture | None


def replay_groups(engine: Engine, runs: list[dict[str, Any]]) -> list[list[ReplayedRun]]:
    """The runs in the crawls that replay them, oldest first: a run alone, or the runs one backfill recorded
    together (one run per capture day, one web archive for all), replayed by one crawl of that archive."""
    groups: list[list[ReplayedRun]] = []
    for run in runs:
        crawl = crawl_capture(engine, run["id"])
        previous = groups[-1][-1].crawl if groups else None
        if crawl is not None and previous is not None and previous.crawl_run_id == crawl.crawl_run_id:
            groups[-1].append(ReplayedRun(run, crawl))
        else:
            groups.append([ReplayedRun(run, crawl)])
    return groups


def _replay_name(group: list[ReplayedRun]) -> str:
    return f"run{group[0].run['id']}" if group[0].crawl is None else f"crawl{group[0].crawl.crawl_run_id}-run{group[0].run['id']}"


def _pending_snapshot(parent: Path, name: str, group: list[ReplayedRun]) -> Snapshot:
    """The snapshot `group` will be replayed from, before its directory is written (see _written)."""
    first = group[0].run
    source = f"reextract:{name} {first['source'] or ''}".strip()
    return Snapshot(parent / name, first["store"], _instant(first), source)


@contextmanager
def _written(engine: Engine, pending: Snapshot, group: list[ReplayedRun], damaged: list[str]) -> Iterator[Snapshot]:
    """The group's archived answers indexed as the pending snapshot's directory for its crawl, then removed.

    A run that was partial is rebuilt partial: what its archive lacks (the pages it never got) would otherwise
    read as a complete run's 404s. A backfill's runs are replayed by one crawl asking the archive's index what
    the backfill asked (its window, from the archive's warcinfo), recording the captures of those runs only."""
    original = group[0].run
    archived = write_run_snapshot(engine, original["id"], pending.path)
    damaged.extend(archived.problems)
    incomplete, archive_crawl = archived.incomplete, None
    if group[0].crawl is not None:
        captures = [replayed.crawl.capture for replayed in group]
        archive_crawl = {**(archived.crawl_settings or {}), "STOREWATCH_ARCHIVE_CAPTURES": captures}
    elif original["status"] == "partial":
        incomplete = incomplete or f"the original run was partial: {original['error_summary'] or 'no reason recorded'}"
    try:
        yield replace(pending, path=archived.path.resolve(), incomplete=incomplete, archive_crawl=archive_crawl)
    finally:
        shutil.rmtree(archived.path, ignore_errors=True)
