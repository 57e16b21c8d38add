"""One crawl in its own process, as the scheduler runs it: started, watched against a time limit, stopped.

The child is `storewatch crawl STORE ...` in a new session (the terminal's Ctrl-C reaches the scheduler, which
decides what happens to its crawls). Stopping is graceful once the crawl has begun recording its run: SIGINT
makes Scrapy close the spider, so the run is recorded `partial`; a crawl still alive `stop_timeout` later is
killed with its whole process group (the replay server included). A crawl that has not begun its run yet has
nothing to save (and Scrapy would not see a SIGINT that early), so it is killed at once. The child dies with the scheduler: if the scheduler is killed, the kernel sends
the child SIGHUP and it kills its process group, leaving a `running` run for start-up recovery.

`python -m crawler.crawl_process ARGS` is the child's entry point: it arranges that, then runs `storewatch ARGS`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from storage.db import DATABASE_URL_ENV
from storage.timeutil import utcnow

PARENT_ENV = "STOREWATCH_SCHEDULER_PID"
PR_SET_PDEATHSIG = 1


@dataclass
class CrawlOutcome:
    """How a crawl process ended."""

    returncode: int
    stopped: str | None  # why it was asked to stop, if it was
    killed: bool  # it had to be killed after not stopping in time
    output: str  # its last line of output worth showing (an error, or its summary)
    seconds: float  # how long the process ran
    how: str | None = None  # how it ended, where no exit status tells (a Scrapyd job)
    lost: str | None = None  # why the scheduler lost sight of the crawl (its Scrapyd node died or forgot it)

    def describe_exit(self) -> str:
        if self.how is not None:
            return self.how
        if self.returncode < 0:
            return f"crawl process killed by {signal.Signals(-self.returncode).name}"
        return f"crawl process exited with status {self.returncode}"


class CrawlProcess:
    """`storewatch crawl` for one store in a child process (`storewatch backfill` for one capture day of an archive replay)."""

    def __init__(
        self,
        store: str,
        database_url: str,
        *,
        snapshot: Path | None = None,
        archive_day: date | None = None,
        faults: tuple[str, ...] = (),
        config: Path | None = None,
        stop_timeout: float = 30,
        run_begun: Callable[[int], bool] = lambda pid: True,
    ) -> None:
        self.store = store
        self.database_url = database_url
        self.snapshot = snapshot
        self.archive_day = archive_day  # record only this capture day of an archive replay
        self.faults = faults
        self.config = config
        self.stop_timeout = stop_timeout
        self.run_begun = run_begun  # pid -> whether that crawl process has recorded its run as begun
        self.started_at: datetime | None = None
        self._process: subprocess.Popen | None = None
        self._stop_reason: str | None = None
        self._signalled = False
        self._kill_at: float | None = None
        self._killed = False
        self._started = 0.0

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def command(self) -> list[str]:
        if self.archive_day is None:
            what = ["crawl", self.store]
        else:  # `backfill` records the capture days between --from and --to
            what = ["backfill", self.store, "--from", self.archive_day.isoformat(), "--to", self.archive_day.isoformat()]
        command = [sys.executable, "-m", "crawler.crawl_process", *what]
        if self.config is not None:
            command += ["--config", str(self.config)]
        if self.snapshot is not None:
            command += ["--replay", str(self.snapshot)]
            for rule in self.faults:
                command += ["--fail", rule]
        return command

    def start(self) -> None:
        self.started_at = utcnow()
        self._started = time.monotonic()
        self._process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            env={**os.environ, PARENT_ENV: str(os.getpid()), DATABASE_URL_ENV: self.database_url},  # not argv: ps shows argv
        )

    def wait(self, time_limit: float) -> CrawlOutcome:
        """Wait for the crawl to end, asking it to stop past `time_limit` seconds and killing it if it will not."""
        assert self._process is not None
        deadline = time.monotonic() + time_limit
        while True:
            try:
                stdout, stderr = self._process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline and self._stop_reason is None:
                self.request_stop(f"time limit of {format_seconds(time_limit)} exceeded")
            if self._stop_reason is not None and not self._signalled:
                self._signal_stop()
            if self._kill_at is not None and time.monotonic() > self._kill_at and not self._killed:
                self._killed = True
                _kill_group(self._process.pid)
        return CrawlOutcome(
            self._process.returncode,
            self._stop_reason,
            self._killed,
            _last_line(stderr) or _last_line(stdout),
            time.monotonic() - self._started,
        )

    def request_stop(self, reason: str) -> None:
        """Ask for the crawl to be stopped; the thread in `wait` does it. Safe from a signal handler."""
        if self._stop_reason is None:
            self._stop_reason = reason

    def _signal_stop(self) -> None:
        self._signalled = True
        if not self.run_begun(self._process.pid):
            self._killed = True
            _kill_group(self._process.pid)
            return
        self._kill_at = time.monotonic() + self.stop_timeout
        try:
            os.kill(self._process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass


def format_seconds(seconds: float) -> str:
    from crawler.schedule_config import format_duration

    return format_duration(seconds)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _die_with_parent() -> None:
    """Make the kernel tell this process when the scheduler dies (Linux), and kill the process group then."""
    parent = int(os.environ.get(PARENT_ENV) or 0)
    if not parent:  # not started by a scheduler (nor in a session of its own)
        return
    signal.signal(signal.SIGHUP, lambda *_: os.killpg(0, signal.SIGKILL))
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGHUP)
    if os.getppid() != parent:  # the scheduler died before the call above
        os.killpg(0, signal.SIGKILL)


def main() -> None:
    _die_with_parent()
    from crawler.cli.app import main as storewatch

    sys.argv = ["storewatch", *sys.argv[1:]]
    storewatch()


if __name__ == "__main__":
    main()
