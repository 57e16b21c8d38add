"""The storewatch scheduler: crawls each configured store on its schedule, for months, without losing a run.

- APScheduler 3 keeps the schedule in the storewatch database (SQLAlchemyJobStore, table `apscheduler_jobs`,
  outside the Alembic-managed schema), so schedules and missed runs survive a restart; runs missed while
  the service was down coalesce into one.
- Each crawl is `storewatch crawl` in its own process (crawler.crawl_process), or with `runner = "scrapyd"` a
  job on the least-busy Scrapyd node (nodes/); at most one per store; a crawl past its time limit is stopped and
  recorded `partial`; a failed one -- its node lost included -- is recorded `failed` with its reason and
  retried with exponential backoff.
- At start-up a run left `running` by a dead process is closed as `failed`; one scheduler per database
  (storage.lock), which checks before every dispatch and on a heartbeat that it still holds its lock: if
  not, it dispatches nothing more, lets running crawls finish and exits non-zero. A store another process
  is writing (each crawl holds its store's lock) is skipped as busy. SIGTERM/SIGINT: no new crawls, running
  ones get a grace period, then are stopped; exit 0.

`storewatch schedule` runs `Service.run()`. `storewatch demo` runs the same service over recorded snapshots
with a simulated clock (`Service.run_simulated()`): APScheduler's own job processing decides what runs when,
the clock jumps from one due run to the next, and each snapshot is crawled on its date.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import apscheduler.executors.base
import apscheduler.schedulers.base
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, column, inspect, select, table
from sqlalchemy.engine import make_url

from crawler.crawl_process import CrawlOutcome
from crawler.replay import SNAPSHOT_FILE, Snapshot
from crawler.runner import spider_class
from crawler.schedule_config import ServiceConfig, StoreSchedule, cron_trigger, format_duration
from nodes.dispatch import Crawl, CrawlRequest, Dispatcher, dispatcher_for
from notifications import Notifier
from storage.db import database_url as resolve_database_url
from storage.db import display_url
from storage.db import open_database
from storage.errors import StorewatchError
from storage.lock import BUSY, DatabaseLock, acquire_scheduler_lock, end_writer_session, store_writer
from storage.runs import (
    close_unfinished_run,
    get_run,
    last_observed,
    prefix_error_summary,
    record_unrecorded_attempt,
    recover_abandoned_runs,
)
from storage.timeutil import isoformat, utcnow
from storage.writer import latest_observed_at
from storage.wording import plural

log = logging.getLogger("storewatch.scheduler")

JOBS_TABLE = "apscheduler_jobs"
DEMO_JOBS_TABLE = "apscheduler_demo_jobs"  # the demo's schedule never disturbs a real one in the same database
SUMMARY_LIMIT = 300

_current: "Service | None" = None  # the service running in this process, for the job function


def crawl_job(store: str, attempt: int = 0) -> None:
    """The APScheduler job: crawl `store` now (attempt 0 is a scheduled run, n the n-th retry)."""
    if _current is None:
        raise RuntimeError("crawl_job runs only inside a running storewatch scheduler")
    _current.crawl(store, attempt)


def job_id(store: str, kind: str = "crawl") -> str:
    return f"{kind}:{store}"


class SnapshotDatesTrigger(BaseTrigger):
    """Fires once at each of the given instants (the demo's snapshot dates)."""

    def __init__(self, dates: tuple[datetime, ...]) -> None:
        self.dates = tuple(sorted(dates))

    def get_next_fire_time(self, previous_fire_time, now):
        return next((d for d in self.dates if previous_fire_time is None or d > previous_fire_time), None)

    def __str__(self) -> str:
        return f"snapshot dates[{len(self.dates)}]"


def trigger_for(schedule: StoreSchedule, zone) -> BaseTrigger:
    if schedule.dates:
        return SnapshotDatesTrigger(schedule.dates)
    if schedule.cron:
        return cron_trigger(schedule.cron, zone, schedule.jitter)
    return IntervalTrigger(seconds=schedule.every, timezone=zone, jitter=int(schedule.jitter) or None)


class SimulatedClock:
    """A clock that stands still while crawls run and jumps when the scheduler would otherwise wait."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class SimulatedClockScheduler(BaseScheduler):
    """APScheduler's own job processing, driven against a SimulatedClock instead of waiting in real time."""

    def __init__(self, clock: SimulatedClock, **options: Any) -> None:
        self.clock = clock
        super().__init__(**options)

    def wakeup(self) -> None:  # nothing waits: `run_until_done` processes jobs in a loop
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def run_until_done(self, stop: threading.Event, until: datetime | None = None) -> None:
        """Run due jobs (DebugExecutor: here, one after another), jump to the next due time; until no job is left
        (or the next one is due after `until`)."""
        with _apscheduler_reads(self.clock):
            while not stop.is_set():
                wait_seconds = self._process_jobs()
                if wait_seconds is None or (until is not None and self.clock.now() + timedelta(seconds=wait_seconds) > until):
                    return
                self.clock.advance(wait_seconds)


@contextmanager
def _apscheduler_reads(clock: SimulatedClock) -> Iterator[None]:
    """APScheduler 3 reads the time only through `datetime.now()` in these two modules: point it at the clock."""

    class SimulatedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock.now().astimezone(tz) if tz is not None else clock.now()

    modules = (apscheduler.schedulers.base, apscheduler.executors.base)
    saved = [module.datetime for module in modules]
    for module in modules:
        module.datetime = SimulatedDatetime
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            module.datetime = original


class Service:
    """The scheduler service over one database and one configuration."""

    def __init__(
        self,
        config: ServiceConfig,
        database_url: str | None = None,
        *,
        on_run: Callable[[dict[str, Any], str], None] | None = None,
        jobs_table: str = JOBS_TABLE,
    ) -> None:
        self.config = config
        self.database_url = absolute_database_url(database_url)
        self.on_run = on_run or log_run
        self.notifier = Notifier(config.notify) if config.notify else None  # the demo's config has none
        self.jobs_table = jobs_table
        self.clock: Callable[[], datetime] = utcnow
        self.engine = None
        self.scheduler: BaseScheduler | None = None
        self.dispatcher: Dispatcher | None = None  # where crawls run (`[scheduler] runner`), once the database is open
        self._active: dict[str, Crawl | None] = {}
        self._active_lock = threading.RLock()
        self._idle = threading.Condition(self._active_lock)
        self._stopping = threading.Event()
        self._hurry = threading.Event()
        self._stopped_by: str | None = None
        self._abandoned: list[dict[str, Any]] = []
        self._lock: DatabaseLock | None = None
        self.lost_lock: str | None = None  # why the scheduler stopped: it no longer held its lock

    # -- the service's life ----------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; then stop taking jobs, let running crawls finish or stop them; return."""
        with self._opened():
            executor = ThreadPoolExecutor(self.config.max_parallel)
            self.scheduler = self._configure(BackgroundScheduler(), executor)
            self.scheduler.start(paused=True)  # job stores open, nothing runs yet
            self._reconcile()
            self._retry_abandoned()
            self._log_schedule()
            self.scheduler.resume()
            next_check = time.monotonic() + self.config.lock_check
            while not self._stopping.wait(0.5):
                if time.monotonic() >= next_check:
                    self._holds_lock()
                    next_check = time.monotonic() + self.config.lock_check
            self.scheduler.shutdown(wait=False)
            self._finish_running_crawls()

    def run_simulated(self, start: datetime, until: datetime | None = None) -> None:
        """Run the same service with a simulated clock starting at `start`, until every scheduled run is done (or
        the next is due after `until`)."""
        clock = SimulatedClock(start)
        self.clock = clock.now
        with self._opened():
            self.scheduler = self._configure(SimulatedClockScheduler(clock), DebugExecutor())
            self.scheduler.start(paused=True)
            self._reconcile()
            self._retry_abandoned()
            self.scheduler.resume()
            self.scheduler.run_until_done(self._stopping, until)
            self.scheduler.shutdown(wait=False)
            self._finish_running_crawls()
        if self._stopped_by:
            raise KeyboardInterrupt

    @contextmanager
    def _opened(self) -> Iterator[None]:
        """Database, single-instance lock, start-up recovery and signal handlers, for the service's lifetime."""
        global _current
        if _current is not None:
            raise StorewatchError("a storewatch scheduler already runs in this process")
        self.engine = open_database(self.database_url)
        try:
            self.dispatcher = dispatcher_for(self.config, self.engine, self.database_url)
        except BaseException:
            self.engine.dispose()
            raise
        lock = self._lock = acquire_scheduler_lock(self.engine)
        handlers = {}
        try:
            self._recover()
            _current = self
            if threading.current_thread() is threading.main_thread():
                handlers = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
            yield
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            _current = None
            lock.release()
            self.engine.dispose()

    def _configure(self, scheduler: BaseScheduler, executor) -> BaseScheduler:
        scheduler.configure(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=self.jobs_table)},
            executors={"default": executor},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=self.config.zone,
        )
        scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        return scheduler

    def _holds_lock(self) -> bool:
        """Whether the scheduler still holds its lock; on loss, stop dispatching (once) and say why."""
        if self.lost_lock is None and not self._lock.still_held():
            self.lost_lock = "the scheduler lost its lock on the database (its lock connection was closed or the database file replaced)"
            log.error("%s: dispatching nothing more; %d running crawls finish under their own store locks; then exiting", self.lost_lock, len(self._active))
            self._stopping.set()
        return self.lost_lock is None

    def _recover(self) -> None:
        self._abandoned = recover_abandoned_runs(self.engine)
        for run in self._abandoned:
            log.warning("%s run %s: %s -- marked failed", run["store"], run["id"], run["error_summary"])

    def _retry_abandoned(self) -> None:
        """An abandoned run is a failed one: retry it like any other (unless the next scheduled run comes first)."""
        for store in dict.fromkeys(run["store"] for run in self._abandoned):
            if store in self.config.stores:
                note = self._schedule_retry(store, self.config.stores[store], 0)
                log.info("%s: after the abandoned run%s", store, note or "; no retries configured")

    def _reconcile(self) -> None:
        """Make the stored jobs match the configuration, keeping the due time of every unchanged schedule.

        A schedule that is new or changed starts now if the store is overdue (never crawled, or last observed
        longer ago than one period), else at its next fire time; an unchanged one keeps its stored due time,
        so a run missed while the service was down happens once at start-up.
        """
        stored = {job.id: job for job in self.scheduler.get_jobs()}
        now = self.clock()
        for store, schedule in self.config.stores.items():
            trigger = trigger_for(schedule, self.config.zone)
            name = f"crawl {store} ({schedule.describe()})"
            previous = stored.get(job_id(store))
            if previous is not None and previous.name == name and previous.next_run_time is not None:
                next_run = previous.next_run_time
            else:
                next_run = self._first_run(store, schedule, trigger, now)
            self.scheduler.add_job(
                crawl_job, trigger, args=[store], id=job_id(store), name=name, replace_existing=True, next_run_time=next_run
            )
            retry = stored.get(job_id(store, "retry"))
            if retry is not None and retry.next_run_time is not None and next_run <= retry.next_run_time:
                self.scheduler.remove_job(retry.id)  # the scheduled run comes first and does the retry's work
        wanted = {job_id(store, kind) for store in self.config.stores for kind in ("crawl", "retry")}
        for stale in stored.keys() - wanted:
            self.scheduler.remove_job(stale)
            log.info("removed the stored job %s: its store is no longer configured", stale)

    def _first_run(self, store: str, schedule: StoreSchedule, trigger: BaseTrigger, now: datetime) -> datetime:
        if schedule.dates:
            return trigger.get_next_fire_time(None, now)
        last = last_observed(self.engine, store)
        if last is None:
            return now
        due = last + timedelta(seconds=schedule.every) if schedule.every else trigger.get_next_fire_time(None, last)
        return due if due > now else now

    def _log_schedule(self) -> None:
        log.info(
            "scheduler started on %s: %d stores (%s), lock held by this process",
            display_url(self.database_url),
            len(self.config.stores),
            ", ".join(self.config.stores),
        )
        for store, schedule in self.config.stores.items():
            job, retry = self.scheduler.get_job(job_id(store)), self.scheduler.get_job(job_id(store, "retry"))
            pending = f"; {retry.name} due {isoformat(retry.next_run_time)}" if retry is not None else ""
            log.info("%s: %s; next run %s%s", store, schedule.describe(), isoformat(job.next_run_time), pending)

    def _on_signal(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        if not self._stopping.is_set():
            self._stopped_by = name
            self._stopping.set()
            if self.config.grace_period > 0:
                log.info("%s: stopping -- no new crawls; running crawls get %s to finish (signal again to stop them now)",
                         name, format_duration(self.config.grace_period))
                return
        log.info("%s: stopping running crawls now", name)
        self._stop_all("the scheduler is shutting down")

    def _stop_all(self, reason: str) -> None:
        self._hurry.set()
        for process in list(self._active.values()):
            if process is not None:
                process.request_stop(reason)

    def _finish_running_crawls(self) -> None:
        # After losing the lock the crawls are not the problem: they hold their stores' locks and may finish.
        grace = float("inf") if self.lost_lock else self.config.grace_period
        deadline = time.monotonic() + grace
        with self._idle:
            if self._active:
                log.info("waiting for %d running crawls (%s)", len(self._active), ", ".join(self._active))
            while self._active and not self._hurry.is_set() and time.monotonic() < deadline:
                self._idle.wait(0.2)
            if self._active:
                self._stop_all("the scheduler is shutting down")
            while self._active:
                self._idle.wait(0.2)
        log.info("scheduler stopped")

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run time %s", event.job_id, isoformat(event.scheduled_run_time))
        else:
            log.error("job %s failed: %r\n%s", event.job_id, event.exception, event.traceback)

    # -- one crawl -------------------------------------------------------------------------------------

    def crawl(self, store: str, attempt: int = 0) -> None:
        """Crawl one store in a child process, settle its run, log it, and schedule a retry if it failed."""
        schedule = self.config.stores.get(store)
        if schedule is None:
            log.warning("%s: not in the configuration; job ignored", store)
            return
        with self._active_lock:
            if self._stopping.is_set() or not self._holds_lock():
                return
            if store in self._active:
                log.info("%s: a crawl is already running; this one is skipped", store)
                return
            self._active[store] = None
        try:
            self._crawl(store, schedule, attempt)
        finally:
            with self._idle:
                del self._active[store]
                self._idle.notify_all()

    def _crawl(self, store: str, schedule: StoreSchedule, attempt: int) -> None:
        writer = store_writer(self.engine, store)
        if writer is not None:
            log.info("%s: skipped: busy -- another process is writing it (%s)", store, writer)
            return
        if schedule.replay is None:
            missing = spider_class(store).store_config.missing_token()
            if missing:  # refused before it starts, so no failed run and no retries: nothing would change
                log.info("%s: skipped: %s", store, missing)
                return
        snapshot = None
        if schedule.replay is not None:
            snapshot = self._next_snapshot(store, schedule.replay)
            if snapshot is None:
                log.info("%s: no snapshot in %s to replay as of %s", store, schedule.replay, isoformat(self.clock()))
                return
        crawl = self.dispatcher.crawl(
            CrawlRequest(
                store,
                snapshot=snapshot.path if snapshot else None,
                archive_day=snapshot.archive_day if snapshot else None,
                faults=schedule.replay_faults,
                needs=needs(store),
            )
        )
        with self._active_lock:
            if self._stopping.is_set():
                return
            crawl.start()
            self._active[store] = crawl
        if self._hurry.is_set():
            crawl.request_stop("the scheduler is shutting down")
        outcome = crawl.wait(schedule.time_limit)
        if BUSY in outcome.output and not crawl.recorded_runs():  # another writer took the store first
            log.info("%s: skipped: busy -- %s", store, outcome.output.removeprefix("error: "))
            return
        *earlier, last = self._settle(store, crawl, outcome, snapshot)
        for run in earlier:
            self.on_run(run, "")
        note = ""
        if last["status"] == "failed" and not self._stopping.is_set():
            note = self._schedule_retry(store, schedule, attempt)
        self.on_run({**last, "crawl_seconds": outcome.seconds}, note)
        if self.notifier is not None:
            for run in (*earlier, last):
                self.notifier.run_finished(self.engine, run["id"])

    def _next_snapshot(self, store: str, folder: Path) -> Snapshot | None:
        """The oldest snapshot observed by now that is not recorded yet; else the newest again (a re-crawl).

        An archive replay counts as one snapshot per capture day (`Snapshot.days`)."""
        paths = [folder] if (folder / SNAPSHOT_FILE).is_file() else [path.parent for path in sorted(folder.glob(f"*/{SNAPSHOT_FILE}"))]
        now = self.clock()
        snapshots = sorted(
            (day for snapshot in map(Snapshot.load, paths) if snapshot.store == store for day in snapshot.days() if day.observed_at <= now),
            key=lambda snapshot: snapshot.observed_at,
        )
        latest = latest_observed_at(self.engine, store)
        pending = [snapshot for snapshot in snapshots if latest is None or snapshot.observed_at > latest]
        if pending:
            return pending[0]
        if snapshots and snapshots[-1].observed_at >= latest:
            return snapshots[-1]
        return None

    def _settle(self, store: str, crawl: Crawl, outcome: CrawlOutcome, snapshot: Snapshot | None) -> list[dict[str, Any]]:
        """The crawl's runs as recorded, the last completed where the crawl process could not finish it itself.

        A crawl the scheduler stopped (time limit, shutdown) is `partial`, with the reason in its summary; a
        crawl whose process died on its own, or whose Scrapyd node was lost, is `failed`; a process that ended
        before it recorded any run gets one recorded here, so that every attempt shows in `storewatch runs`.
        """
        stopped = f"stopped: {outcome.stopped}" if outcome.stopped else None
        recorded = crawl.recorded_runs()
        run = recorded.pop() if recorded else None
        if run is not None and run["status"] == "running" and outcome.lost:
            # Given up: should the node come back, its crawl's database session is gone and it can record nothing.
            end_writer_session(self.engine, store, run["id"])
            close_unfinished_run(self.engine, run["id"], "failed", f"{outcome.lost} before the run finished; nothing was recorded")
        elif run is not None and run["status"] == "running":
            if stopped:
                how = "killed" if outcome.killed else outcome.describe_exit()
                status, reason = "partial", f"{stopped}; {how}; nothing was recorded"
            else:
                status, reason = "failed", f"{outcome.describe_exit()} before the run finished; nothing was recorded"
                if outcome.output:
                    reason += f" ({outcome.output})"
            close_unfinished_run(self.engine, run["id"], status, reason)
        elif run is not None:
            if stopped:
                prefix_error_summary(self.engine, run["id"], stopped)
        else:
            if stopped:
                status, reason = "partial", f"{stopped} before the crawl recorded anything"
            else:
                status, reason = "failed", outcome.lost or outcome.output.removeprefix("error: ") or outcome.describe_exit()
            run = {
                "id": record_unrecorded_attempt(
                    self.engine,
                    store,
                    status,
                    observed_at=snapshot.observed_at if snapshot else crawl.started_at,
                    started_at=crawl.started_at,
                    spider_version=f"{store}/{spider_class(store).version}",
                    source=snapshot.source if snapshot else "live",
                    reason=reason,
                )
            }
        return [*recorded, get_run(self.engine, run["id"])]

    def _schedule_retry(self, store: str, schedule: StoreSchedule, attempt: int) -> str:
        """Schedule retry `attempt + 1` after an exponential backoff; returns what was decided, for the log."""
        regular = self.scheduler.get_job(job_id(store))
        next_regular = regular.next_run_time if regular else None
        if next_regular is not None and next_regular <= self.clock():
            # The run failing now is that one: APScheduler moves the stored time on only after the job returns
            # (at once with the simulated clock's executor, which runs the job inside the scheduler's loop).
            next_regular = regular.trigger.get_next_fire_time(next_regular, self.clock())
        if attempt >= schedule.retries:
            tail = f"; next scheduled run {isoformat(next_regular)}" if next_regular else ""
            return f"; gave up after {plural(attempt, 'retry', 'retries')}" + tail if schedule.retries else tail
        delay = schedule.retry_backoff * 2**attempt
        at = self.clock() + timedelta(seconds=delay)
        if next_regular is not None and next_regular <= at:
            return f"; no retry: the next scheduled run ({isoformat(next_regular)}) comes first"
        self.scheduler.add_job(
            crawl_job,
            DateTrigger(at),
            args=[store, attempt + 1],
            id=job_id(store, "retry"),
            name=f"retry {attempt + 1} of {store}",
            replace_existing=True,
        )
        return f"; retry {attempt + 1}/{schedule.retries} in {format_duration(delay)}"


def needs(store: str) -> frozenset[str]:
    """What a machine must have to crawl `store`: `browser` (Chromium) for a store whose pages may need rendering."""
    return frozenset({"browser"}) if "browser" in spider_class(store).store_config.crawled_via else frozenset()


def next_run_times(engine: Engine, jobs_table: str = JOBS_TABLE) -> dict[str, dict[str, Any]]:
    """store -> {"at", "retry"}: the next run the stored schedule holds, read without starting a scheduler."""
    if not inspect(engine).has_table(jobs_table):
        return {}
    jobs = table(jobs_table, column("id"), column("next_run_time"))
    with engine.connect() as connection:
        rows = connection.execute(select(jobs.c.id, jobs.c.next_run_time)).all()
    upcoming: dict[str, dict[str, Any]] = {}
    for identifier, timestamp in rows:
        kind, _, store = identifier.partition(":")
        if timestamp is None or kind not in ("crawl", "retry"):
            continue
        at = datetime.fromtimestamp(timestamp, timezone.utc)
        if store not in upcoming or at < upcoming[store]["at"]:
            upcoming[store] = {"at": at, "retry": kind == "retry"}
    return upcoming


def log_run(run: dict[str, Any], note: str) -> None:
    """The service's one log line per run."""
    level = logging.INFO if run["status"] == "complete" else logging.WARNING
    log.log(level, "%s%s", describe_run(run), note)


def describe_run(run: dict[str, Any]) -> str:
    took = f", {run['crawl_seconds']:.1f}s" if "crawl_seconds" in run else ""
    where = f" on {run['node']}" if run.get("node") else ""
    head = f"{run['store']} run {run['id']} {run['status']}{where} (observed {isoformat(run['observed_at'])}{took})"
    counts = (
        f"{run['models_seen']} seen +{run['added']} added ~{run['changed']} changed -{run['removed']} removed "
        f"^{run['returned']} returned, {plural(run['errors'], 'error')}"
    )
    if run["status"] == "failed":
        return f"{head}: {_one_line(run['error_summary'] or 'no reason recorded')}"
    summary = f"{head}: {counts}"
    return summary + (f" -- {_one_line(run['error_summary'])}" if run["error_summary"] else "")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def absolute_database_url(explicit: str | None) -> str:
    """The database URL with a relative SQLite path made absolute (crawl processes and the lock file agree)."""
    url = make_url(resolve_database_url(explicit))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    return url.render_as_string(hide_password=False)


def demo_config(snapshots: list[tuple[str, Snapshot]], root: Path) -> ServiceConfig:
    """The demo's schedule: each store replays its snapshot folder, with a run on each pending snapshot's date
    (an archive replay's capture days are snapshots of their own: see `Snapshot.days`)."""
    dates: dict[str, list[datetime]] = {}
    for store, snapshot in snapshots:
        dates.setdefault(store, []).append(snapshot.observed_at)
    stores = {
        store: StoreSchedule(store=store, every=None, dates=tuple(sorted(instants)), replay=(root / store).resolve(), time_limit=600)
        for store, instants in dates.items()
    }
    return ServiceConfig(path=None, stores=stores, grace_period=0, stop_timeout=10)


def run_demo(
    snapshots: list[tuple[str, Snapshot]], root: Path, database_url: str | None, on_run: Callable[[dict[str, Any], str], None]
) -> None:
    """Replay `snapshots` through the scheduler on a simulated clock that starts at the earliest of them."""
    service = Service(demo_config(snapshots, root), database_url, on_run=on_run, jobs_table=DEMO_JOBS_TABLE)
    service.run_simulated(min(snapshot.observed_at for _, snapshot in snapshots).astimezone(timezone.utc))
