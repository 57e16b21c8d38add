"""Where a crawl runs: on this machine (`runner = "local"`) or on a Scrapyd node (`runner = "scrapyd"`).

The scheduler decides when a store is crawled and settles the run afterwards; a dispatcher only starts the
crawl somewhere, follows it, stops it when asked, and names the runs it recorded. Both kinds of crawl give the
same `CrawlOutcome`, so the scheduler's rules (time limit -> `partial`, death -> `failed` and retried) are the
same wherever a crawl runs.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, select

from crawler.crawl_process import CrawlOutcome, CrawlProcess
from nodes.scrapyd import NodeUnreachable, ScrapydNode
from storage.errors import StorewatchError
from storage.lock import this_host
from storage.models import CrawlRun
from storage.runs import RUN_COLUMNS, runs_of_process
from storage.timeutil import isoformat, utcnow

runs = CrawlRun.__table__


@dataclass(frozen=True)
class CrawlRequest:
    """One crawl the scheduler wants: a store, live or from a snapshot (one capture day of an archive replay)."""

    store: str
    snapshot: Path | None = None
    archive_day: date | None = None
    faults: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()  # what the machine must have: `browser` for a store whose pages render


class Crawl(Protocol):
    started_at: Any
    node: str | None  # the Scrapyd node running it; None on this machine

    def start(self) -> None: ...
    def wait(self, time_limit: float) -> CrawlOutcome: ...
    def request_stop(self, reason: str) -> None: ...
    def recorded_runs(self) -> list[dict[str, Any]]: ...


class Dispatcher(Protocol):
    def crawl(self, request: CrawlRequest) -> Crawl: ...


# -- this machine -------------------------------------------------------------------------------------------


class LocalCrawl(CrawlProcess):
    """`storewatch crawl` in a child process of the scheduler (crawler.crawl_process); its runs are found by pid."""

    node = None

    def __init__(self, engine: Engine, request: CrawlRequest, database_url: str, config: Path | None, stop_timeout: float) -> None:
        super().__init__(
            request.store, database_url, snapshot=request.snapshot, archive_day=request.archive_day, faults=request.faults,
            config=config, stop_timeout=stop_timeout, run_begun=lambda pid: bool(self.recorded_runs()),
        )
        self.engine = engine

    def recorded_runs(self) -> list[dict[str, Any]]:
        return runs_of_process(self.engine, self.store, self.pid, this_host(), self.started_at)


class LocalDispatcher:
    def __init__(self, engine: Engine, database_url: str, config: Path | None, stop_timeout: float) -> None:
        self.engine, self.database_url, self.config, self.stop_timeout = engine, database_url, config, stop_timeout

    def crawl(self, request: CrawlRequest) -> LocalCrawl:
        return LocalCrawl(self.engine, request, self.database_url, self.config, self.stop_timeout)


# -- Scrapyd nodes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScrapydSettings:
    """The `[scrapyd]` section of storewatch.toml."""

    nodes: tuple[ScrapydNode, ...]
    project: str = "storewatch"
    poll: float = 2  # seconds between two looks at a running job
    lost_after: float = 60  # a node that answers nothing this long has lost its crawls
    pending_limit: float = 3600  # a job a node has not started by then never starts (a node back from the dead)


class NoNode(StorewatchError):
    """No configured node can take the crawl now."""


class ScrapydDispatcher:
    """Sends each crawl to the least-busy reachable node that has what the store needs; ties go to the node this
    scheduler sent fewest crawls, so idle nodes take turns."""

    def __init__(self, engine: Engine, settings: ScrapydSettings, stop_timeout: float) -> None:
        self.engine, self.settings, self.stop_timeout = engine, settings, stop_timeout
        self._sent = {node.url: 0 for node in settings.nodes}
        self._placing = threading.Lock()  # two crawls dispatched at once must not both count the same idle node

    def crawl(self, request: CrawlRequest) -> "ScrapydCrawl":
        return ScrapydCrawl(self, request)

    def place(self, request: CrawlRequest, job: str, arguments: dict[str, str]) -> ScrapydNode:
        able = [node for node in self.settings.nodes if request.needs <= node.capabilities]
        if not able:
            raise NoNode(f"{request.store} needs a node with {', '.join(sorted(request.needs))}; no configured Scrapyd node declares it")
        with self._placing:
            loads, problems = [], []
            for node in able:
                try:
                    loads.append((node.load(), self._sent[node.url], node))
                except StorewatchError as error:
                    problems.append(str(error))
            for _, _, node in sorted(loads, key=lambda entry: entry[:2]):
                try:
                    node.schedule(request.store, {**arguments, "node": node.url}, job)
                except StorewatchError as error:
                    problems.append(str(error))
                    continue
                self._sent[node.url] += 1
                return node
        raise NoNode("no Scrapyd node took the crawl: " + "; ".join(problems))


class ScrapydCrawl:
    """One crawl as a Scrapyd job: scheduled on a node, followed through `listjobs.json`, stopped with `cancel.json`.

    The run is found by its job id (crawl_runs.job), which the node's crawl records (nodes.job). A node that stops
    answering for `lost_after`, or that no longer lists the job (restarted: Scrapyd keeps finished jobs in memory),
    has lost the crawl: the outcome says so in `lost`.
    """

    def __init__(self, dispatcher: ScrapydDispatcher, request: CrawlRequest) -> None:
        self.dispatcher, self.request, self.store = dispatcher, request, request.store
        self.job = uuid.uuid4().hex
        self.node: str | None = None
        self.started_at = None
        self._node: ScrapydNode | None = None
        self._refused: str | None = None
        self._stop_reason: str | None = None

    def arguments(self) -> dict[str, str]:
        """The job's spider arguments: paths and dates, never a secret (`listjobs.json` shows them to anyone)."""
        request, arguments = self.request, {}
        if request.snapshot is not None:
            arguments["replay"] = str(request.snapshot)
        if request.archive_day is not None:
            arguments["archive_day"] = request.archive_day.isoformat()
        if request.faults:
            arguments["faults"] = json.dumps(list(request.faults))
        arguments["not_after"] = isoformat(utcnow() + timedelta(seconds=self.dispatcher.settings.pending_limit))
        return arguments

    def start(self) -> None:
        self.started_at = utcnow()
        self._started = time.monotonic()
        try:
            self._node = self.dispatcher.place(self.request, self.job, self.arguments())
            self.node = self._node.url
        except StorewatchError as error:
            self._refused = str(error)

    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason

    def wait(self, time_limit: float) -> CrawlOutcome:
        if self._node is None:
            return CrawlOutcome(1, self._stop_reason, False, self._refused or "not dispatched", 0.0, how="not dispatched")
        settings, node = self.dispatcher.settings, self._node
        deadline = time.monotonic() + time_limit
        silent_since: float | None = None
        signalled = killed = False
        kill_at: float | None = None
        while True:
            try:
                job = node.job(self.job)
                silent_since = None
            except NodeUnreachable as error:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since >= settings.lost_after:
                    return self._outcome(killed, lost=f"Scrapyd node {node.url} lost ({error}) while running job {self.job}")
            else:
                if job is None:
                    return self._outcome(killed, lost=f"Scrapyd node {node.url} no longer lists job {self.job}")
                if job.state == "finished":
                    return self._outcome(killed, output=_reason(node.log_tail(job.log_url)))
            now = time.monotonic()
            if now > deadline and self._stop_reason is None:
                self.request_stop(f"time limit of {_duration(time_limit)} exceeded")
            if self._stop_reason is not None and not signalled:
                signalled = _cancel(node, self.job, "INT")  # Scrapy closes the spider: the run is recorded `partial`
                kill_at = now + self.dispatcher.stop_timeout
            if kill_at is not None and now > kill_at and not killed:
                killed = _cancel(node, self.job, "KILL")
                kill_at = now
            if killed and now > kill_at + self.dispatcher.stop_timeout:  # the node is not ending it: stop waiting
                return self._outcome(killed, lost=f"Scrapyd node {node.url} still runs job {self.job} after SIGKILL")
            time.sleep(settings.poll)

    def _outcome(self, killed: bool, *, output: str = "", lost: str | None = None) -> CrawlOutcome:
        how = f"Scrapyd job {self.job} on {self.node} ended"
        return CrawlOutcome(0 if lost is None else 1, self._stop_reason, killed, output, time.monotonic() - self._started, how=how, lost=lost)

    def recorded_runs(self) -> list[dict[str, Any]]:
        query = select(*(runs.c[name] for name in RUN_COLUMNS)).where(runs.c.job == self.job).order_by(runs.c.id)
        with self.dispatcher.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]


def _cancel(node: ScrapydNode, job: str, signal: str) -> bool:
    try:
        node.cancel(job, signal)
    except StorewatchError:  # unreachable now: the next look at the job tells what became of it
        return False
    return True


_LOG_LINE = re.compile(r"^\S+ \S+ \[[^\]]+\] (?:ERROR|CRITICAL): ")


def _reason(log_tail: str) -> str:
    """Why a crawl that recorded nothing stopped: the last error its log shows (Scrapy's `[logger] ERROR:` lines)."""
    errors = [_LOG_LINE.sub("", line).strip() for line in log_tail.splitlines() if _LOG_LINE.match(line)]
    errors += [line.strip() for line in log_tail.splitlines() if line.startswith(("storage.errors.", "crawler.", "StorewatchError"))]
    return errors[-1] if errors else ""


def _duration(seconds: float) -> str:
    from crawler.schedule_config import format_duration

    return format_duration(seconds)


def dispatcher_for(config, engine: Engine, database_url: str) -> Dispatcher:
    """The configured runner's dispatcher (`[scheduler] runner`)."""
    if config.runner == "scrapyd":
        if engine.dialect.name != "postgresql":
            raise StorewatchError('runner = "scrapyd" needs the PostgreSQL database the nodes share (--db or STOREWATCH_DATABASE_URL), not SQLite')
        return ScrapydDispatcher(engine, config.scrapyd, config.stop_timeout)
    return LocalDispatcher(engine, database_url, config.path, config.stop_timeout)
