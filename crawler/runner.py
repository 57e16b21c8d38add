"""Running crawls: live or replayed, one after another in one Twisted reactor."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.reactor import install_reactor
from sqlalchemy import Engine
from twisted.internet import defer
from twisted.internet.error import ReactorNotRunning

from crawler import settings as default_settings
from crawler.replay import FaultRule, ReplayServer, Snapshot
from crawler.stores import StoreSpiderLoader, check_store
from storage.db import database_url as resolve_database_url
from storage.db import open_database
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.lock import DatabaseLock, acquire_store_lock
from storage.runs import close_unfinished_run
from storage.timeutil import isoformat
from storage.writer import check_not_future, check_time_order


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings


def spider_class(store: str):
    """The spider for `store`, or a one-line error naming the stores there are."""
    return StoreSpiderLoader().load(check_store(store))


def check_live_crawl(store: str) -> None:
    """A one-line error, before anything starts, when `store` cannot be crawled live: its required token is not set."""
    problem = spider_class(store).store_config.missing_token()
    if problem:
        raise StorewatchError(problem)


def check_snapshots(store: str, snapshots: list[Snapshot], engine: Engine) -> list[Snapshot]:
    """Snapshots of `store` in time order, none older than the store's history; else a one-line error.

    The writer checks each run again under the store's lock; this refuses a series before it starts."""
    for snapshot in snapshots:
        if snapshot.store != store:
            raise StorewatchError(f"{snapshot.path} is a snapshot of {snapshot.store!r}, not {store!r}")
        check_not_future(store, snapshot.observed_at)
    ordered = sorted(snapshots, key=lambda snapshot: snapshot.observed_at)
    if ordered:
        check_time_order(engine, store, ordered[0].observed_at, what=f"snapshot {ordered[0].path.name}")
    return ordered


@contextmanager
def crawl_collector(young_objects: int = 5_000) -> Iterator[None]:
    """Garbage collection tuned for a crawl, put back afterwards.

    Scrapy and Twisted allocate many short-lived objects per request, and with CPython's defaults (a
    collection every 700 allocations, each full one walking everything loaded at start-up) a replayed crawl
    spent several per cent of its instructions collecting. So the start-up heap is frozen and the young
    generation collected every `young_objects` allocations (callgrind, TF Hub first crawl, heap frozen:
    6.75 G instructions at the default 700, 6.55 G at 5,000); a larger young generation saves no more and
    keeps garbage longer (50,000 raised a 500-page browser crawl's Python RSS by 20 MB).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young_objects, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_crawls(
    jobs: list[tuple[str, Snapshot | None]],
    *,
    database_url: str | None = None,
    on_result: Callable[[dict[str, Any]], None] = lambda summary: None,
    progress: bool = False,
    log_level: str = "WARNING",
    faults: list[FaultRule] | None = None,
    extra_settings: dict[str, Any] | None = None,
    policies: dict[str, HealthPolicy] | None = None,
    scopes: dict[str, dict[str, Any]] | None = None,
    prepare: Callable[[Snapshot], AbstractContextManager[Snapshot]] | None = None,
) -> list[dict[str, Any]]:
    """Run each (store, snapshot) crawl in turn -- a None snapshot crawls the live store -- in one reactor.

    `prepare`, when given, makes each snapshot ready just before its crawl and tidies it away right after (a
    context manager that yields the snapshot to replay): re-extraction writes a run's archive out as a
    directory this way, one run at a time.

    A live crawl of a store whose required token is not set is refused before any crawl starts (StorewatchError).

    Each store's writer lock is taken first and held until the last crawl ends, so a second writer of the
    store is refused at once (LockBusy) and nothing else can slip in between the runs of a series. Returns
    the run summaries: the run's counts plus `close_reason`. An interrupted series (Ctrl-C once: the current
    crawl closes and is recorded `partial`; twice: it is stopped at once and its run closed here) raises
    KeyboardInterrupt once everything it started is gone.
    """
    for store in {store for store, snapshot in jobs if snapshot is None}:
        check_live_crawl(store)
    database_url = resolve_database_url(database_url)
    engine = open_database(database_url)
    locks: dict[str, DatabaseLock] = {}
    try:
        for store in dict.fromkeys(store for store, _ in jobs):
            locks[store] = acquire_store_lock(engine, store)
        return _run_locked(
            jobs, locks, database_url, on_result, progress, log_level, faults, extra_settings, policies or {}, scopes or {}, prepare
        )
    finally:
        for lock in locks.values():
            lock.release()
        engine.dispose()


def _run_locked(jobs, locks, database_url, on_result, progress, log_level, faults, extra_settings, policies, scopes, prepare) -> list[dict[str, Any]]:
    settings = project_settings({"LOG_LEVEL": log_level, **(extra_settings or {})})
    install_reactor(settings["TWISTED_REACTOR"])
    process = CrawlerProcess(settings)
    logging.getLogger("scrapy").setLevel(log_level)
    summaries: list[dict[str, Any]] = []
    failure: list[BaseException] = []
    servers: list[ReplayServer] = []
    finished = []

    @defer.inlineCallbacks
    def crawl_all():
        try:
            for store, snapshot in jobs:
                if prepare is None or snapshot is None:
                    summary = yield crawl_one(store, snapshot)
                else:
                    with prepare(snapshot) as ready:
                        summary = yield crawl_one(store, ready)
                summaries.append(summary)
                on_result(summary)
                if summary["close_reason"] == "shutdown":
                    break
        except BaseException as error:  # surfaced after the reactor stops
            failure.append(error)
        finally:
            finished.append(True)
            process.stop()
            from twisted.internet import reactor

            with contextlib.suppress(ReactorNotRunning):  # a Ctrl-C has Scrapy stop the reactor itself
                reactor.stop()

    @defer.inlineCallbacks
    def crawl_one(store: str, snapshot: Snapshot | None):
        run_settings = {
            "STOREWATCH_DATABASE_URL": database_url,
            "STOREWATCH_PROGRESS": progress,
            "STOREWATCH_PROGRESS_LABEL": f"{store} {snapshot.path.name if snapshot else 'live'}:",
        }
        # The replay server starts in its own process while the crawler is built here.
        server = ReplayServer(snapshot.path, faults).start() if snapshot is not None else None
        if server is not None:
            servers.append(server)
        try:
            crawler = process.create_crawler(spider_class(store))
            crawler.storewatch_lock = locks[store]  # the pipeline records its runs under the lock taken above
            run_settings["STOREWATCH_HEALTH"] = (policies.get(store) or HealthPolicy()).as_dict()
            run_settings["STOREWATCH_SCOPE"] = scopes.get(store, {})
            if server is not None:
                run_settings.update(
                    default_settings.REPLAY_SETTINGS,
                    STOREWATCH_REPLAY_URL=server.ready(),
                    STOREWATCH_OBSERVED_AT=isoformat(snapshot.observed_at),
                    STOREWATCH_SOURCE=snapshot.source,
                    STOREWATCH_SOURCE_INCOMPLETE=snapshot.incomplete,
                )
                if snapshot.archive_crawl:  # a backfill's archive: the spider's own settings follow from these
                    crawler.settings.setdict(snapshot.archive_crawl, priority="cmdline")
                    crawler.spidercls.update_settings(crawler.settings)
            crawler.settings.setdict(run_settings, priority="cmdline")
            yield process.crawl(crawler)
        finally:
            if server is not None:
                server.__exit__(None, None, None)
                servers.remove(server)
        stats = crawler.stats.get_stats()
        if "storewatch/summary" not in stats:
            raise StorewatchError(stats.get("storewatch/refused") or f"{store}: the crawl recorded no run (see the log above)")
        return {**stats["storewatch/summary"], "close_reason": stats.get("finish_reason", "finished")}

    from twisted.internet import reactor

    reactor.callWhenRunning(crawl_all)
    with crawl_collector():
        process.start(stop_after_crawl=False)
    stopped_abruptly = not finished  # the reactor was stopped under the crawls (Ctrl-C twice)
    interrupted = stopped_abruptly or any(summary["close_reason"] == "shutdown" for summary in summaries)
    if interrupted:  # already stopping: one more Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for server in servers:
        server.__exit__(None, None, None)
    if stopped_abruptly:
        for lock in locks.values():
            for run_id in lock.run_ids:
                close_unfinished_run(lock.engine, run_id, "partial", "interrupted: stopped at once (Ctrl-C twice) before the run was recorded; nothing was recorded")
    if failure:
        raise failure[0]
    if interrupted:
        raise KeyboardInterrupt
    return summaries
