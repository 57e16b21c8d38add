"""Run bookkeeping outside a crawl: recovering abandoned runs, closing runs whose process was stopped, health.

The snapshot writer records a run from inside its crawl. When the crawl process dies first (killed, out of
memory, its scheduler gone), the run stays `running` until the next writer of the store or the scheduler
settles it here. Versions are applied in the same transaction as a run's final status, so a run still
`running` has written no version rows: closing it as `failed` or `partial` never needs to undo anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from storage.lock import store_writer, this_host
from storage.models import CrawlRun, Model, ModelVersion
from storage.timeutil import isoformat, utcnow

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__

# What a run's `source` says when its data is a reconstructed snapshot (SNAPSHOT.json `"reconstructed": true`,
# rebuilt from public evidence rather than recorded): the replay puts it there (crawler/replay.py).
RECONSTRUCTED = "RECONSTRUCTED"


def is_reconstructed(source: str | None) -> bool:
    """Whether a run's data came from a reconstructed snapshot, by its `source`."""
    return RECONSTRUCTED in (source or "")


RUN_COLUMNS = (
    "id", "store", "observed_at", "started_at", "finished_at", "status", "models_seen", "added", "changed",
    "removed", "returned", "errors", "error_summary", "source", "pid", "host", "node", "job",
)


def running_runs(engine: Engine, store: str | None = None) -> list[dict[str, Any]]:
    query = select(*(runs.c[name] for name in RUN_COLUMNS)).where(runs.c.status == "running").order_by(runs.c.id)
    if store is not None:
        query = query.where(runs.c.store == store)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def recover_abandoned_runs(engine: Engine, *, store: str | None = None, holding_lock: bool = False) -> list[dict[str, Any]]:
    """Mark `failed` every `running` run (of `store`, or of any store) that no live process is recording.

    A writer holds its store's lock for as long as it records a run, so a `running` run of a store whose lock
    is free was left by a process that died (killed, out of memory, its machine gone). A writer that holds the
    store's lock itself (`holding_lock`) knows every other `running` run of that store is such a run.
    Returns the runs it closed.
    """
    closed = []
    for run in running_runs(engine, store):
        if not holding_lock and store_writer(engine, run["store"]) is not None:
            continue
        if run["pid"] is None:
            reason = "abandoned: its crawl process is unknown and no longer records it"
        elif run["host"] == this_host():
            reason = f"abandoned: its crawl process (pid {run['pid']}) died before finishing"
        else:
            reason = f"abandoned: its crawl process (pid {run['pid']} on {run['host']}) stopped before finishing"
        if close_unfinished_run(engine, run["id"], "failed", reason + "; nothing was recorded"):
            closed.append({**run, "status": "failed", "error_summary": reason})
    return closed


def close_unfinished_run(engine: Engine, run_id: int, status: str, reason: str) -> bool:
    """Give a run still `running` its final status and reason; False if it had finished meanwhile."""
    with engine.begin() as connection:
        result = connection.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status == "running")
            .values(status=status, finished_at=utcnow(), error_summary=reason)
        )
    return result.rowcount == 1


def record_unrecorded_attempt(
    engine: Engine,
    store: str,
    status: str,
    *,
    observed_at: datetime,
    started_at: datetime,
    spider_version: str,
    source: str,
    reason: str,
) -> int:
    """A run for a crawl whose process ended before it recorded one (so every failure and stop shows)."""
    with engine.begin() as connection:
        return connection.execute(
            insert(runs).values(
                store=store, observed_at=observed_at, started_at=started_at, finished_at=utcnow(), status=status,
                models_seen=0, added=0, changed=0, removed=0, returned=0, errors=1,
                spider_version=spider_version, source=source, error_summary=reason,
            )
        ).inserted_primary_key[0]


def prefix_error_summary(engine: Engine, run_id: int, note: str) -> None:
    """Put `note` (why the scheduler stopped the crawl) in front of the run's own error summary."""
    with engine.begin() as connection:
        summary = connection.execute(select(runs.c.error_summary).where(runs.c.id == run_id)).scalar()
        connection.execute(
            update(runs).where(runs.c.id == run_id).values(error_summary=f"{note}; {summary}" if summary else note)
        )


def runs_of_process(engine: Engine, store: str, pid: int, host: str, since: datetime) -> list[dict[str, Any]]:
    """The runs crawl process `pid` on `host` recorded (started at or after `since`), oldest first.

    Usually one; a crawl through a web archive records one per capture day.
    """
    query = (
        select(*(runs.c[name] for name in RUN_COLUMNS))
        .where(runs.c.store == store, runs.c.pid == pid, runs.c.host == host, runs.c.started_at >= since - timedelta(seconds=1))
        .order_by(runs.c.id)
    )
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def get_run(engine: Engine, run_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(connection.execute(select(*(runs.c[name] for name in RUN_COLUMNS)).where(runs.c.id == run_id)).mappings().one())


def last_observed(engine: Engine, store: str) -> datetime | None:
    """When the store was last looked at, whatever came of it (a replayed snapshot counts as of its date)."""
    with engine.connect() as connection:
        return connection.execute(select(func.max(runs.c.observed_at)).where(runs.c.store == store)).scalar()


def store_health(engine: Engine, store: str) -> dict[str, Any]:
    """A store's last run, how many runs in a row have failed, and how many models it holds now."""
    with engine.connect() as connection:
        recent = connection.execute(
            select(*(runs.c[name] for name in RUN_COLUMNS))
            .where(runs.c.store == store, runs.c.status != "running")
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(100)
        ).mappings().all()
        tracked = connection.execute(
            select(func.count())
            .select_from(versions.join(models, models.c.id == versions.c.model_pk))
            .where(models.c.store == store, versions.c.valid_to.is_(None))
        ).scalar_one()
        running = connection.execute(
            select(func.count()).where(runs.c.store == store, runs.c.status == "running")
        ).scalar_one()
    failures = 0
    for run in recent:
        if run["status"] != "failed":
            break
        failures += 1
    last = dict(recent[0]) if recent else None
    if last is not None:
        for key in ("observed_at", "started_at", "finished_at"):
            last[key] = isoformat(last[key])
    return {"last_run": last, "consecutive_failures": failures, "models_tracked": tracked, "running": running > 0}
