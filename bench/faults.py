"""Fault-injection benchmark: every store replayed under every fault class, and two writers at once; is history still true?

For each store, a good snapshot is recorded (the baseline, once per database, copied per scenario); then the
store's next snapshot is crawled with one fault rule (`--fail PATTERN=ACTION`) applied to all of the store's
listing requests, or to all of its model pages (and, for modeldepot, to the archive's CDX index); then that
next snapshot again without faults (re-observing the same instant). Crawls run as a user runs them:
`python -m crawler.cli crawl STORE --replay DIR --fail ...` (`backfill modeldepot` for the archive store, one
run per capture day), each in its own process, two scenarios at a time.

The truth is the same runs replayed without faults into a separate database (baseline, next, next). Counted:

- runs by status: the runs recorded under the fault (`none`: the crawl recorded no run, e.g. an archive day
  whose listing capture was junk; `refused: busy` / `refused: older`: a concurrent writer that stopped at
  once, exit status 2, because the store was being written or its snapshot was older than the latest run);
- false removals: a model removed at an instant where the truth did not remove it (a version closed with no
  `changed` successor at that instant); false returns: a `returned` version the truth does not have;
- junk versions: versions whose content the truth never had for that model -- a page's junk read as a change;
- duplicate open versions (a model with more than one version whose valid_to is NULL), inverted intervals
  (valid_to < valid_from) and runs left `running` once their process has exited.

Concurrency, 20 times each on TF Hub: two writers of the same snapshot started together (one should finish
`complete` and the other refuse at once, exit status 2, "is being written by"); an older and a newer snapshot
started together, in alternating order with a varying head start (whatever ran, history must match a clean
replay of the runs that were recorded, in their order). The newer TF Hub snapshot comes from
../shared/realdata/mirrors when it is there, else the concurrency runs on pytorch_hub's shipped snapshots.

Target: 0 false removals, 0 duplicate open versions, 0 inverted intervals, 0 runs left running. PostgreSQL
databases are created and dropped on the server at $STOREWATCH_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), one per scenario, as the test suite does.

    python bench/faults.py [--db sqlite|postgres|both] [--quick] [--store STORE ...]
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.lock import BUSY  # noqa: E402
from storage.models import CrawlRun, Model, ModelVersion  # noqa: E402

SNAPSHOTS = ROOT / "snapshots"
SHARED_TFHUB = ROOT.parent / "shared" / "realdata" / "mirrors" / "tfhub"
POSTGRES_ADMIN_URL = os.environ.get("STOREWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WAYBACK = SNAPSHOTS / "modeldepot" / "wayback"

# Every fault class of the replay server; `truncate:half` keeps half of the target's median file.
FAULTS = ("404", "429", "500", "503", "empty", "truncate:100", "truncate:half", "html", "slow:0.2", "reset", "json:[]", 'json:{"unexpected":true}')
QUICK_FAULTS = ("503", "empty", "truncate:100", "html", "reset", "json:[]")
ROUNDS, QUICK_ROUNDS = 20, 3


def replay(store: str, date: str) -> tuple[str, ...]:
    return ("crawl", store, "--replay", str(SNAPSHOTS / store / date))


def archive_days(**window: str) -> tuple[str, ...]:
    bounds = [arg for key, day in window.items() for arg in (f"--{key.rstrip('_')}", day)]
    return ("backfill", "modeldepot", "--replay", str(WAYBACK), "--backoff", "0.05", *bounds)


@dataclass(frozen=True)
class StoreCase:
    """A store's good snapshot, its next one, and the glob patterns of each kind of request."""

    store: str
    base: tuple[str, ...]  # CLI arguments that record the good snapshot
    next: tuple[str, ...]  # ... and the next one
    next_dir: Path  # where the next snapshot's files are (to size `truncate:half`)
    targets: dict[str, tuple[str, ...]]


GITHUB_TARGETS = {"listing": ("/api.github.com/*",), "model pages": ("/raw.githubusercontent.com/*",)}
CASES = (
    StoreCase("pytorch_hub", replay("pytorch_hub", "2019-06-30"), replay("pytorch_hub", "2019-09-30"), SNAPSHOTS / "pytorch_hub" / "2019-09-30", GITHUB_TARGETS),
    StoreCase("tfhub", replay("tfhub", "2020-12-31"), replay("tfhub", "2021-06-30"), SNAPSHOTS / "tfhub" / "2021-06-30", GITHUB_TARGETS),
    StoreCase(
        "onnx_zoo", replay("onnx_zoo", "2023-12-08"), replay("onnx_zoo", "2023-12-26"), SNAPSHOTS / "onnx_zoo" / "2023-12-26",
        {"listing": ("/raw.githubusercontent.com/onnx/*",)},  # the manifest is the only document: no model pages
    ),
    StoreCase(
        "wolfram_nnr", replay("wolfram_nnr", "2019-03-01"), replay("wolfram_nnr", "2024-06-01"), SNAPSHOTS / "wolfram_nnr" / "2024-06-01",
        {"listing": ("/www.wolframcloud.com/*",), "model pages": ("/resources.wolframcloud.com/*",)},
    ),
    StoreCase(
        "aws_marketplace", replay("aws_marketplace", "2025-09-01"), replay("aws_marketplace", "2026-08-20"),
        SNAPSHOTS / "aws_marketplace" / "2026-08-20",
        {"listing": ("/aws.amazon.com/marketplace/sitemap*",), "model pages": ("/aws.amazon.com/marketplace/pp/*",)},
    ),
    StoreCase(
        "modeldepot", archive_days(to="2019-12-31"), archive_days(from_="2020-01-01"), WAYBACK,
        {
            "index": ("/web.archive.org/cdx/*",),
            "listing": ("/web.archive.org/web/*/modeldepot.io/browse",),
            "model pages": ("/web.archive.org/web/*modeldepot.io*/*/*",),  # <user>/<slug>: not /browse
        },
    ),
)


def concurrency_case() -> tuple[str, dict[str, tuple[str, ...]]]:
    """The store and the three snapshots (base, older, newer) the concurrency rounds use."""
    if (SHARED_TFHUB / "2021-12-31" / "SNAPSHOT.json").is_file():
        newer = ("crawl", "tfhub", "--replay", str(SHARED_TFHUB / "2021-12-31"))
        return "tfhub", {"base": replay("tfhub", "2020-12-31"), "older": replay("tfhub", "2021-06-30"), "newer": newer}
    return "pytorch_hub", {name: replay("pytorch_hub", day) for name, day in (("base", "2019-06-30"), ("older", "2019-09-30"), ("newer", "2019-12-31"))}


# -- databases -------------------------------------------------------------------------------------------


class SqliteDatabases:
    """Scenario databases as SQLite files in one work folder; a copy is SQLite's online backup."""

    def __init__(self, work: Path):
        self.work = work

    def create(self) -> str:
        return f"sqlite:///{self.work / f'{uuid.uuid4().hex[:12]}.db'}"

    def copy(self, url: str) -> str:
        copy = self.create()
        source, target = sqlite3.connect(url.removeprefix("sqlite:///")), sqlite3.connect(copy.removeprefix("sqlite:///"))
        source.backup(target)
        source.close()
        target.close()
        return copy

    def drop(self, url: str) -> None:
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)


class PostgresDatabases:
    """Scenario databases on the PostgreSQL server; a copy is CREATE DATABASE ... TEMPLATE."""

    def __init__(self, admin_url: str = POSTGRES_ADMIN_URL):
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.lock = threading.Lock()  # CREATE DATABASE ... TEMPLATE refuses while another copy reads the template
        self.admin.connect().close()  # no server: fail now, before any scenario

    def _new(self, template: str | None = None) -> str:
        name = f"storewatch_faults_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with self.lock, self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        return self._new()

    def copy(self, url: str) -> str:
        return self._new(template=url)

    def drop(self, url: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


# -- what a database holds -------------------------------------------------------------------------------


@dataclass
class History:
    """What one database says about a store: its runs and its versions, reduced to comparable facts."""

    runs: list[tuple[int, str, str, str | None]]  # (id, status, observed_at, error_summary), oldest first
    removals: set[tuple[str, str]]  # (model_id, instant it was removed)
    returns: set[tuple[str, str]]  # (model_id, instant it came back)
    contents: set[tuple[str, str]]  # (model_id, content_hash) of every version
    duplicate_open: int
    inverted: int

    @property
    def running(self) -> int:
        return sum(1 for run in self.runs if run[1] == "running")


def read_history(url: str) -> History:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            runs = [
                (run_id, status, observed.isoformat(), summary)
                for run_id, status, observed, summary in connection.execute(
                    select(CrawlRun.id, CrawlRun.status, CrawlRun.observed_at, CrawlRun.error_summary).order_by(CrawlRun.id)
                )
            ]
            rows = connection.execute(
                select(Model.model_id, ModelVersion.valid_from, ModelVersion.valid_to, ModelVersion.change, ModelVersion.content_hash)
                .join(Model, Model.id == ModelVersion.model_pk)
            ).all()
    finally:
        engine.dispose()
    changed_at = {(model_id, start) for model_id, start, _, change, _ in rows if change == "changed"}
    open_versions = Counter(model_id for model_id, _, end, _, _ in rows if end is None)
    return History(
        runs=runs,
        removals={(model_id, end.isoformat()) for model_id, _, end, _, _ in rows if end is not None and (model_id, end) not in changed_at},
        returns={(model_id, start.isoformat()) for model_id, start, _, change, _ in rows if change == "returned"},
        contents={(model_id, digest) for model_id, _, _, _, digest in rows},
        duplicate_open=sum(1 for count in open_versions.values() if count > 1),
        inverted=sum(1 for _, start, end, _, _ in rows if end is not None and end < start),
    )


# -- running the CLI -------------------------------------------------------------------------------------


class Storewatch:
    """One `storewatch ARGS --db DB` process, started now; its stderr goes to a file (no pipe to fill)."""

    def __init__(self, args: tuple[str, ...], db: str):
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *args, "--db", db],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.stderr, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def wait(self) -> tuple[int, str]:
        """Exit status and stderr."""
        code = self.process.wait(timeout=900)
        self.stderr.seek(0)
        message = self.stderr.read()
        self.stderr.close()
        return code, message


def run(args: tuple[str, ...], db: str) -> tuple[int, str]:
    return Storewatch(args, db).wait()


def run_clean(args: tuple[str, ...], db: str) -> None:
    code, stderr = run(args, db)
    if code not in (0, 1):  # 1: a run that is suspect or failed, which the comparison will show
        raise RuntimeError(f"storewatch {' '.join(args)} exited {code}: {stderr.strip()[-2000:]}")


# -- scenarios -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One scenario's counts, and what to show when they are not all zero."""

    row: str
    faults: int = 0
    statuses: Counter = field(default_factory=Counter)
    false_removals: set = field(default_factory=set)
    false_returns: set = field(default_factory=set)
    junk_versions: set = field(default_factory=set)
    duplicate_open: int = 0
    inverted: int = 0
    running: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one per scenario, for --verbose

    def compare(self, history: History, truth: History) -> None:
        self.false_removals |= history.removals - truth.removals
        self.false_returns |= history.returns - truth.returns
        self.junk_versions |= history.contents - truth.contents
        self.duplicate_open += history.duplicate_open
        self.inverted += history.inverted

    @property
    def wrong(self) -> bool:
        return bool(self.false_removals or self.false_returns or self.junk_versions or self.duplicate_open or self.inverted or self.running)


class Bench:
    """The scenarios of one database kind: baselines and truths first, then faults, then concurrency."""

    def __init__(self, databases, faults: tuple[str, ...], rounds: int, stores: set[str] | None):
        self.databases = databases
        self.faults = faults
        self.rounds = rounds
        self.cases = [case for case in CASES if not stores or case.store in stores]
        self.created: list[str] = []
        self.sequences: dict[tuple, str] = {}  # (store, step names) -> a database holding exactly those runs, clean
        self.sequence_lock = threading.RLock()  # recorded() builds on its own shorter prefixes

    def database(self, template: str | None = None) -> str:
        url = self.databases.copy(template) if template else self.databases.create()
        self.created.append(url)
        return url

    def recorded(self, store: str, steps: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
        """A database holding a clean replay of `steps` (name, CLI arguments), built from the longest known prefix."""
        with self.sequence_lock:
            key = (store, tuple(name for name, _ in steps))
            if key in self.sequences:
                return self.sequences[key]
            url = self.database(self.recorded(store, steps[:-1])) if len(steps) > 1 else self.database()
            run_clean(steps[-1][1], url)
            self.sequences[key] = url
            return url

    def run_all(self) -> list[Outcome]:
        jobs = []
        for case in self.cases:
            base = self.recorded(case.store, (("base", case.base),))
            truth = read_history(self.recorded(case.store, (("base", case.base), ("next", case.next), ("next", case.next))))
            jobs += [(case, base, truth, target, fault) for target in case.targets for fault in self.faults]
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(lambda job: self.fault_scenario(*job), jobs))
        rows: dict[str, Outcome] = {}
        for outcome in outcomes:
            merge(rows.setdefault(outcome.row, Outcome(outcome.row)), outcome)
        return [*rows.values(), self.same_snapshot_rounds(), self.newer_and_older_rounds()]

    def fault_scenario(self, case: StoreCase, base: str, truth: History, target: str, fault: str) -> Outcome:
        started = time.perf_counter()
        outcome = Outcome(f"{case.store} {target}", faults=1)
        action = f"truncate:{half_size(case.next_dir, case.targets[target])}" if fault == "truncate:half" else fault
        rules = tuple(arg for pattern in case.targets[target] for arg in ("--fail", f"{pattern}={action}"))
        db = self.database(base)
        before = len(read_history(db).runs)
        code, stderr = run((*case.next, *rules), db)
        faulted = read_history(db)
        under_fault = faulted.runs[before:]
        outcome.statuses.update([run[1] for run in under_fault] or ["none"])
        outcome.lines.append(f"{case.store} {target} {action}: exit {code}, " + (
            "; ".join(f"{r[1]} ({r[3]})" for r in under_fault) or f"no run ({stderr.strip().splitlines()[-1][:200] if stderr.strip() else ''})"
        ))
        outcome.running += faulted.running
        run_clean(case.next, db)
        final = read_history(db)
        outcome.running += final.running
        outcome.compare(final, truth)
        if "Traceback" in stderr:
            outcome.notes.append(f"traceback: {stderr.strip().splitlines()[-1]}")
        if outcome.wrong or outcome.notes:
            summaries = "; ".join(f"run {r[0]} {r[1]}: {r[3]}" for r in under_fault) or f"no run recorded (exit {code}: {stderr.strip()[-300:]})"
            outcome.notes.insert(0, f"{case.store} {target} {action}: {summaries}")
            outcome.notes += describe(outcome)
        self.databases.drop(db)
        self.created.remove(db)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def same_snapshot_rounds(self) -> Outcome:
        """Two writers of one snapshot of TF Hub, started together."""
        store = "tfhub"
        base_step, next_step = ("base", replay(store, "2020-12-31")), ("next", replay(store, "2021-06-30"))
        outcome = Outcome(f"{store}: 2 writers, same snapshot")
        base = self.recorded(store, (base_step,))
        for _ in range(self.rounds):
            merge(outcome, self.together(store, base, base_step, [next_step, next_step], head_start=0.0))
        return outcome

    def newer_and_older_rounds(self) -> Outcome:
        """An older and a newer snapshot of one store started together, each first in turn, with head starts."""
        store, steps = concurrency_case()
        outcome = Outcome(f"{store}: newer + older together")
        base_step = ("base", steps["base"])
        base = self.recorded(store, (base_step,))
        pair = [("older", steps["older"]), ("newer", steps["newer"])]
        for index in range(self.rounds):
            order = pair if index % 2 == 0 else pair[::-1]
            merge(outcome, self.together(store, base, base_step, order, head_start=(0.0, 0.3, 0.7, 1.2, 2.0)[index // 2 % 5]))
        return outcome

    def together(self, store: str, base: str, base_step, steps, head_start: float) -> Outcome:
        """Start two writers (the second `head_start` seconds later); compare with a clean replay of what was recorded."""
        started = time.perf_counter()
        outcome = Outcome("", faults=1)
        db = self.database(base)
        before = len(read_history(db).runs)
        processes = []
        for number, (_, args) in enumerate(steps):
            if number:
                time.sleep(head_start)
            processes.append(Storewatch(args, db))
        results = [process.wait() for process in processes]
        history = read_history(db)
        recorded = history.runs[before:]
        outcome.statuses.update(run[1] for run in recorded)
        outcome.statuses.update(refusal(stderr) for code, stderr in results if code == 2)
        outcome.running += history.running
        for code, stderr in results:
            if code not in (0, 1, 2) or "Traceback" in stderr:  # 1: refused in its final transaction (a failed run)
                outcome.notes.append(f"{store}: a writer exited {code}: {stderr.strip()[-300:]}")
        # What was recorded, in order, replayed cleanly: the history must be exactly that.
        observed = [run for run in recorded if run[1] != "failed"]
        sequence = tuple(step_for(run[2], steps) for run in observed)
        truth = read_history(self.recorded(store, (base_step, *sequence))) if sequence else read_history(base)
        outcome.compare(history, truth)
        if outcome.wrong:
            outcome.notes.append(f"{store} {[name for name, _ in steps]} (head start {head_start}s): recorded {[(r[1], r[2]) for r in recorded]}")
        self.databases.drop(db)
        self.created.remove(db)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def close(self) -> None:
        for url in self.created:
            self.databases.drop(url)


def refusal(stderr: str) -> str:
    """Why a writer stopped at once: the store was busy, or its snapshot is older than the latest run."""
    if BUSY in stderr:
        return "refused: busy"
    return "refused: older" if "older than the latest run" in stderr else "refused: other"


def step_for(observed_at: str, steps) -> tuple[str, tuple[str, ...]]:
    """The step whose snapshot is observed at `observed_at` (the date is the snapshot folder's name)."""
    return next(step for step in steps if Path(step[1][-1]).name == observed_at[:10])


def half_size(directory: Path, patterns: tuple[str, ...]) -> int:
    """Half the median size of the snapshot files the patterns match (a listing: its one document)."""
    sizes = [
        path.stat().st_size for path in directory.rglob("*")
        if path.is_file() and any(fnmatch.fnmatchcase("/" + str(path.relative_to(directory)), p) for p in patterns)
    ]
    return int(statistics.median(sizes)) // 2 if sizes else 100


def merge(total: Outcome, outcome: Outcome) -> None:
    total.faults += outcome.faults
    total.statuses.update(outcome.statuses)
    total.false_removals |= outcome.false_removals
    total.false_returns |= outcome.false_returns
    total.junk_versions |= outcome.junk_versions
    total.duplicate_open += outcome.duplicate_open
    total.inverted += outcome.inverted
    total.running += outcome.running
    total.seconds += outcome.seconds
    total.notes += outcome.notes
    total.lines += outcome.lines


def describe(outcome: Outcome) -> list[str]:
    lines = []
    for label, found in (("false removals", outcome.false_removals), ("false returns", outcome.false_returns), ("junk versions", outcome.junk_versions)):
        if found:
            shown = sorted(found)[:5]
            lines.append(f"  {label} ({len(found)}): {shown}{' ...' if len(found) > 5 else ''}")
    for label, count in (("duplicate open versions", outcome.duplicate_open), ("inverted intervals", outcome.inverted), ("runs left running", outcome.running)):
        if count:
            lines.append(f"  {label}: {count}")
    return lines


# -- the table -------------------------------------------------------------------------------------------

COLUMNS = ("", "faults tried", "runs by status", "false removals", "false returns", "junk versions",
           "duplicate open versions", "inverted intervals", "runs left running", "time")
STATUS_ORDER = ("complete", "suspect", "partial", "failed", "running", "none", "refused: busy", "refused: older", "refused: other")


def table(title: str, outcomes: list[Outcome], elapsed: float) -> str:
    rows = [COLUMNS]
    for outcome in outcomes:
        statuses = " ".join(f"{name} {outcome.statuses[name]}" for name in STATUS_ORDER if outcome.statuses[name])
        rows.append((
            outcome.row, str(outcome.faults), statuses, str(len(outcome.false_removals)), str(len(outcome.false_returns)),
            str(len(outcome.junk_versions)), str(outcome.duplicate_open), str(outcome.inverted), str(outcome.running),
            f"{outcome.seconds:.0f} s",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [f"{title}: {elapsed:.0f} s elapsed"]
    for number, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(width) if i in (0, 2) else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))))
        if number == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK_FAULTS)} fault classes, {QUICK_ROUNDS} concurrency rounds")
    parser.add_argument("--store", action="append", choices=[case.store for case in CASES], help="only these stores' faults")
    parser.add_argument("--verbose", action="store_true", help="print each fault scenario's outcome")
    args = parser.parse_args()
    faults, rounds = (QUICK_FAULTS, QUICK_ROUNDS) if args.quick else (FAULTS, ROUNDS)
    work = Path(tempfile.mkdtemp(prefix="storewatch-faults-"))
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    notes: list[str] = []
    try:
        for kind in kinds:
            try:
                databases = SqliteDatabases(work) if kind == "sqlite" else PostgresDatabases()
            except Exception as error:  # noqa: BLE001 -- any failure means: no server to run on
                server, problem = make_url(POSTGRES_ADMIN_URL), str(error).splitlines()[0]  # the URL's password masked
                if args.db == "postgres":
                    print(f"error: no PostgreSQL server at {server}: {problem}", file=sys.stderr)
                    sys.exit(2)
                print(f"PostgreSQL: skipped, no server at {server} ({problem})\n", flush=True)
                continue
            bench = Bench(databases, faults, rounds, set(args.store or ()))
            started = time.perf_counter()
            try:
                outcomes = bench.run_all()
            finally:
                bench.close()
            if args.verbose:
                print("\n".join(line for outcome in outcomes for line in outcome.lines))
            print(table("SQLite" if kind == "sqlite" else "PostgreSQL", outcomes, time.perf_counter() - started), flush=True)
            print(flush=True)
            notes += [f"[{kind}] {note}" for outcome in outcomes for note in outcome.notes]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if notes:
        print("What went wrong (the runs' error summaries, and the differences from a clean replay):")
        print("\n".join(notes))


if __name__ == "__main__":
    main()
