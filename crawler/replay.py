"""Snapshot directories, and running a replay server for one while a crawl needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from pathlib import Path

from crawler import replay_faults, replay_server
from crawler.replay_faults import BadFaultRule, FaultRule
from crawler.replay_server import SNAPSHOT_FILE
from storage.errors import StorewatchError
from storage.runs import RECONSTRUCTED
from storage.timeutil import parse_instant


@dataclass(frozen=True)
class Snapshot:
    """A recorded snapshot directory and what its SNAPSHOT.json says about it."""

    path: Path
    store: str
    observed_at: datetime
    source: str
    # An archive replay (a recording of web.archive.org) holds the store on several days: its capture days.
    capture_days: tuple[date, ...] = ()
    archive_day: date | None = None  # set on one day's view of an archive replay (`days()`)
    incomplete: str | None = None  # why the snapshot is known to lack answers (read from a damaged WARC file)
    # The web archive of a backfill (webarchive/reextract.py): the settings that crawl ran with, and the
    # captures to record again (STOREWATCH_ARCHIVE_CAPTURES), for the crawl's replay.
    archive_crawl: dict | None = None

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Snapshot":
        path = Path(directory)
        meta_file = path / SNAPSHOT_FILE
        if not path.is_dir():
            raise StorewatchError(f"snapshot directory not found: {path}")
        try:
            meta = json.loads(meta_file.read_text())
            observed_at = parse_instant(meta["observed_at"], end_of_day=False)
            store = meta["store"]
            capture_days = tuple(sorted(date.fromisoformat(day) for day in meta.get("capture_dates", ())))
            incomplete = meta.get("incomplete") or None
        except FileNotFoundError:
            raise StorewatchError(f"not a snapshot directory (no {SNAPSHOT_FILE}): {path}") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StorewatchError(f"unreadable {meta_file}: {error!r}") from None
        source = meta.get("source", {})
        described = source.get("repository", "") if isinstance(source, dict) else str(source)
        if isinstance(source, dict) and source.get("commit"):
            described += f"@{source['commit']}"
        if meta.get("reconstructed") is True and RECONSTRUCTED not in described:  # the report marks such runs
            described = f"{RECONSTRUCTED} {described}".strip()
        return cls(
            path=path.resolve(), store=store, observed_at=observed_at, source=f"replay:{path.name} {described}".strip(), capture_days=capture_days,
            incomplete=incomplete,
        )

    def days(self) -> list["Snapshot"]:
        """The store as this snapshot holds it, day by day: an archive replay's capture days, each observed from the
        start of its day (its run is observed at the day's capture); any other snapshot is one day, itself."""
        if not self.capture_days:
            return [self]
        return [replace(self, observed_at=datetime.combine(day, time.min, timezone.utc), archive_day=day) for day in self.capture_days]


class ReplayServer:
    """A replay server in a child process, for a `with` block (`.url` is its base URL), or from `start()` to
    `__exit__` with `ready()` giving the URL once it listens -- so a caller can do other work meanwhile."""

    def __init__(self, directory: str | os.PathLike, faults: list[FaultRule] | None = None) -> None:
        self.directory = Path(directory)
        self.faults = faults or []
        self.url = ""
        self._process: subprocess.Popen | None = None

    def start(self) -> "ReplayServer":
        """Start the server process; `ready()` waits until it listens."""
        command = [sys.executable, "-m", "crawler.replay_server", str(self.directory), "--port", "0", "--parent", str(os.getpid())]
        for rule in self.faults:
            command += ["--fail", str(rule)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        return self

    def ready(self) -> str:
        """The server's base URL, once it listens; a one-line error if it could not start."""
        if not self.url:
            first_line = self._process.stdout.readline()
            if " on " not in first_line:
                self.__exit__(None, None, None)
                raise StorewatchError(f"replay server for {self.directory} did not start")
            self.url = first_line.rsplit(" on ", 1)[1].strip()
        return self.url

    def __enter__(self) -> "ReplayServer":
        self.start().ready()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process.stdout.close()
            self._process = None


def parse_faults(values: list[str]) -> list[FaultRule]:
    """`--fail PATTERN=ACTION` rules, in order (see crawler.replay_faults.parse_fault); a one-line error for a bad one."""
    try:
        return replay_faults.parse_faults(values)
    except BadFaultRule as error:
        raise StorewatchError(str(error)) from None


def serve(directory: str | os.PathLike, port: int = 8000, faults: list[FaultRule] | None = None) -> None:
    """Serve a snapshot in the foreground until interrupted."""
    try:
        replay_server.serve(directory, port, faults)
    except SystemExit as error:
        raise StorewatchError(str(error.code).removeprefix("error: ")) from None
