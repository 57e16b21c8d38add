"""`storewatch backfill STORE --git`: a store's past recorded from its repository, one run per chosen commit.

Each run is observed at its commit's *committer* time: when the commit reached the branch the store is built
from, so when the store showed it (the author time is when the change was written, possibly days before a
merge). Its `source` is `git:<commit> <repository>`. The run goes through the SnapshotWriter like a crawl's, and
is `complete` when the commit's listing and every file the spider would read came out of the repository.

Cheap where the history is: no Scrapy, one `git ls-tree` per commit, blobs through one `git cat-file --batch`,
and each blob extracted once (outcomes cached by blob id), so a commit that changed nothing the store shows
costs a listing and the writer's comparison. Resumable: commits up to the store's latest run from git are
skipped, so a backfill that stopped goes on after the last commit it recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from crawler.accounting import LISTING_RESPONSES, SOURCE_INCOMPLETE, error_count, error_summary, note_failure, note_malformed_listing, run_status
from crawler.dump_import import ImportStats
from crawler.items import UnreadableModel
from crawler.pipelines import STAGED_MODELS, record_failure
from githistory.repository import BlobReader, Commit, TreeEntry, branch_commits, branch_ref, open_repository, tree_entries
from githistory.steps import EVERY_COMMIT, choose_commits
from githistory.stores import STORES, GitStore, Reading
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.lock import acquire_store_lock
from storage.models import RECORDED_STATUSES, CrawlRun
from storage.timeutil import isoformat
from storage.writer import RunSummary, SnapshotWriter, latest_observed_at

SOURCE_PREFIX = "git:"
GIT_SOURCE = re.compile(r"(?:^|\s)git:([0-9a-f]{40})\b")
runs = CrawlRun.__table__


def git_source(commit: str, store: GitStore) -> str:
    return f"{SOURCE_PREFIX}{commit} {store.url}"


def source_commit(source: str | None) -> str | None:
    """The commit a backfilled run was read from, by its `source` (a re-extracted one's too, which names its
    original's: `reextract:runN git:<commit> ...`); None for any other run."""
    found = GIT_SOURCE.search(source or "")
    return found.group(1) if found else None


def git_store(store: str) -> GitStore:
    if store not in STORES:
        raise StorewatchError(f"{store} is not built from a git repository; stores that can be backfilled with --git: {', '.join(STORES)}")
    return STORES[store]


@dataclass
class Plan:
    """The commits a backfill will record, after those already recorded."""

    store: GitStore
    git_dir: Path
    commits: list[Commit]
    already: int = 0  # chosen commits recorded by an earlier backfill


@dataclass
class Progress:
    done: int
    total: int
    commit: Commit
    summary: RunSummary


def last_git_run(engine: Engine, store: str) -> datetime | None:
    """The instant of the store's latest recorded run read from git (where a stopped backfill goes on)."""
    query = (
        select(runs.c.observed_at, runs.c.source)
        # `git:<commit>` opens a backfilled run's source, and follows `reextract:runN` in a re-extracted one's
        .where(runs.c.store == store, runs.c.status.in_(RECORDED_STATUSES), runs.c.source.like(f"%{SOURCE_PREFIX}%"))
        .order_by(runs.c.observed_at.desc(), runs.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return row.observed_at if row else None


def plan(engine: Engine, store_name: str, location: str | None, *, start: date | None, end: date | None, every: str | None,
         on_note: Callable[[str], None] = lambda line: None) -> Plan:
    """Open (or clone) the repository, choose the commits, and drop those recorded already; StorewatchError when the
    rest would go in front of the store's history."""
    store = git_store(store_name)
    git_dir = open_repository(location or store.url, on_progress=on_note)
    ref = branch_ref(git_dir, store.branch)
    touching = branch_commits(git_dir, ref, store.pathspecs)
    if not touching:
        raise StorewatchError(f"{git_dir}: no commit on {store.branch} touches {', '.join(store.pathspecs)}: not a clone of {store.url}?")
    if every == EVERY_COMMIT:
        candidates = touching
    else:  # any commit may be the head at an interval's end; none before the store's files existed
        candidates = [commit for commit in branch_commits(git_dir, ref) if commit.committed_at >= touching[0].committed_at]
    chosen = ordered(choose_commits(candidates, start=start, end=end, every=every), on_note)
    resumed_after = last_git_run(engine, store.name)
    result = Plan(store, git_dir, chosen)
    if resumed_after is not None:
        result.commits = [commit for commit in chosen if commit.committed_at > resumed_after]
        result.already = len(chosen) - len(result.commits)
    latest = latest_observed_at(engine, store.name)
    if result.commits and latest is not None and result.commits[0].committed_at < latest:
        raise StorewatchError(
            f"{store.name}: commit {result.commits[0].sha[:12]} was committed at {isoformat(result.commits[0].committed_at)}, before the "
            f"store's latest run ({isoformat(latest)}); backfilled history can only precede a store's history when it has none yet, "
            f"or extend it forward: backfill into a new database (see README, Backfilling from git)"
        )
    return result


def ordered(commits: list[Commit], on_note: Callable[[str], None]) -> list[Commit]:
    """The commits whose committer times rise (history is appended in time order); a commit dated before the one
    before it (a skewed clock) is left out, with a note."""
    kept: list[Commit] = []
    for commit in commits:
        if kept and commit.committed_at < kept[-1].committed_at:
            on_note(f"commit {commit.sha[:12]} is dated before its parent ({isoformat(commit.committed_at)}): skipped")
            continue
        kept.append(commit)
    return kept


def backfill(engine: Engine, backfill_plan: Plan, *, policy: HealthPolicy | None = None, max_raw_bytes: int = 0,
             on_run: Callable[[Progress], None] = lambda progress: None, archive=None) -> list[RunSummary]:
    """Record one run per planned commit, holding the store's lock throughout. `archive(run_id, commit, reading,
    entries, blobs)` archives the listing and files a run read (githistory.archive.GitArchive). Ctrl-C fails the
    run being recorded and stops."""
    store, summaries = backfill_plan.store, []
    required = store.config.required_elements
    cache: dict = {}
    rows: dict = {}
    lock = acquire_store_lock(engine, store.name)
    try:
        with BlobReader(backfill_plan.git_dir) as reader:
            blob_bytes: dict[str, bytes | None] = {}

            def blobs(entry: TreeEntry) -> bytes | None:
                if entry.sha not in blob_bytes:
                    blob_bytes[entry.sha] = reader.read(entry.sha)
                return blob_bytes[entry.sha]

            for index, commit in enumerate(backfill_plan.commits, 1):
                blob_bytes.clear()  # only what this commit's new blobs need stays in memory
                entries = tree_entries(backfill_plan.git_dir, commit.sha, store.listed, recursive=store.recursive)
                reading = store.read(store, entries, blobs, cache, required)
                writer = SnapshotWriter(
                    engine, store.name, commit.committed_at, store.spider_version, source=git_source(commit.sha, store), lock=lock,
                    policy=policy, max_raw_bytes=max_raw_bytes,
                )
                writer.start()
                try:
                    if archive is not None:  # before the run is finished: a run whose archive failed is not recorded
                        archive(writer.run_id, commit, reading, entries, blobs)
                    summary = record(writer, commit, reading, rows)
                except BaseException as error:  # the run must not stay `running` (a finished one is left as it is)
                    record_failure(writer, error if isinstance(error, Exception) else StorewatchError("interrupted while recording"))
                    raise
                summaries.append(summary)
                on_run(Progress(index, len(backfill_plan.commits), commit, summary))
    finally:
        lock.release()
    return summaries


def record(writer: SnapshotWriter, commit: Commit, reading: Reading, rows: dict | None = None) -> RunSummary:
    """Stage the commit's models and finish the run, its status decided as a crawl's is (crawler.accounting).
    `rows` keeps each record's staged row across runs (SnapshotWriter.staged_row)."""
    stats = ImportStats()
    if reading.listed:
        stats.inc_value(LISTING_RESPONSES)
    for message in reading.listing_failures:
        note_failure(stats, "listing", message)
    for message in reading.malformed:
        note_malformed_listing(stats, message)
    if reading.missing_blobs:
        stats.set_value(SOURCE_INCOMPLETE, f"the clone lacks {len(reading.missing_blobs)} blobs ({reading.missing_blobs[0]})")
    for model, failure in reading.outcomes:
        if failure is not None:
            note_failure(stats, "model", failure)
        if isinstance(model, UnreadableModel):
            writer.add_unreadable(model.model_id)
        elif rows is None:
            writer.add(model.model_id, model.elements, model.raw, model.counters)
        else:  # records are cached objects, alive as long as the backfill: each is encoded once
            staged = rows.get(id(model))
            if staged is None or staged[0] is not model:
                staged = rows[id(model)] = (model, writer.staged_row(model.model_id, model.elements, model.raw, model.counters))
            writer.add_staged(staged[1])
    stats.set_value(STAGED_MODELS, len(reading.outcomes))
    return writer.finish(
        run_status(stats.values, "finished"),
        errors=error_count(stats.values),
        error_summary=error_summary(stats.values, "finished"),
        stats={"storewatch/git_commit": commit.sha, "storewatch/git_files_read": len(reading.files), STAGED_MODELS: len(reading.outcomes)},
    )

