"""Re-extraction of backfilled runs: each run's listing and blobs read back from its WARC resource records
(githistory.archive) and extracted again with today's spider functions, recorded at the run's instant.

webarchive/reextract.py hands the runs whose `source` is a commit here, and the crawled ones to the replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from crawler.pipelines import record_failure
from githistory.archive import ArchivedCommit
from githistory.backfill import git_store, record, source_commit
from githistory.repository import Commit
from storage.archive_index import run_archive_files
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.timeutil import parse_instant
from storage.writer import SnapshotWriter


def is_backfilled(run: dict[str, Any]) -> bool:
    return source_commit(run["source"]) is not None


def reextract_backfilled(
    archive: Engine, target: Engine, runs: list[dict[str, Any]], *, policy: HealthPolicy | None = None,
    on_result: Callable[[dict[str, Any]], None] = lambda summary: None,
) -> None:
    """Record each backfilled run again into `target`, from the blobs `archive`'s index says where to find."""
    cache: dict = {}
    for run in runs:
        store = git_store(run["store"])
        archived = ArchivedCommit(archive, run_archive_files(archive, run["id"]))
        observed = parse_instant(run["observed_at"], end_of_day=False)
        reading = store.read(store, archived.entries, archived.blob, cache, store.config.required_elements)
        writer = SnapshotWriter(target, store.name, observed, store.spider_version, source=f"reextract:run{run['id']} {run['source']}", policy=policy)
        writer.start()
        try:
            summary = record(writer, Commit(archived.commit, observed), reading)
        except BaseException as error:  # the run must not stay `running`
            record_failure(writer, error if isinstance(error, Exception) else StorewatchError("interrupted while recording"))
            raise
        on_result({**summary.as_dict(), "run_id": summary.run_id})
