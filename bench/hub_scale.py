"""Hub-scale benchmark: crawl a generated Hugging Face Hub listing of N models on two days, then re-crawl the
second day unchanged, through `storewatch crawl huggingface --replay` (Scrapy, the spider, the replay server,
the writer), and time `diff` and `models` on the result.

    PYTHONPATH=. python bench/hub_scale.py                      # 1,000,000 models, SQLite in a temp dir
    PYTHONPATH=. python bench/hub_scale.py --models 2000000
    PYTHONPATH=. python bench/hub_scale.py --models 200000 --dir /tmp/hub --keep
    PYTHONPATH=. python bench/hub_scale.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The listing is generated from real records: every entry is one of the real listing-shaped records in
snapshots/huggingface/ (recorded per-model answers) or tests/data/huggingface/hub_stats_rows.json (real
Hub-statistics rows, which carry `baseModels` and `trendingScore`), with its own id, `_id`, dates, sha and
counters; the large records (cards with long model-index tables) are picked less often, as on the Hub. Pages
of 1,000 entries are written as the spider requests them (`listing_url({})`, then the `cursor=` of each
page's `Link: <...>; rel="next"` header), with recorded headers in `.meta.json` sidecars, one page at a time:
the records are never all in memory.

Day 2, relative to day 1: 60% of the models' download counters move, 2% change an element (a new commit:
sha and lastModified; a tag; gating), 0.5% are new and 0.1% are gone. Day 3 is day 2 again, a day later.

Printed per day: models/s end to end (process start to exit) and per CPU second (user + system time of the
crawl and its replay server, which a shared machine does not inflate), peak RSS of the crawl process and of its replay
server, version rows and metric rows written (metric rows only once a table named like `metric` exists),
database growth (SQLite file size after a checkpoint; PostgreSQL: the sum of pg_total_relation_size over the
schema's tables; and the CPU time of the PostgreSQL backends, which are not the crawl's children). Then the `diff` time between day 1 and day 2, and the time and peak RSS of `models
--format jsonl` (csv when jsonl is not there).

Targets (issue 11, 2 cores): >= 50,000 models/s end to end; peak crawl RSS <= 500 MB at 2,000,000 models on
both days; day 3: 0 version rows, 0 metric rows; day 2: database growth <= 3% of day 1's size; `diff` <= 1 s;
`models --format jsonl` of 2,000,000 models <= 60 s with flat memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.replay_server import META_SUFFIX, local_path  # noqa: E402
from snapshots.huggingface.assemble import POLICY, cursor  # noqa: E402
from spiders.huggingface import EXPAND, PAGE_SIZE, listing_url  # noqa: E402

SNAPSHOTS = ROOT / "snapshots" / "huggingface"
HUB_STATS_ROWS = ROOT / "tests" / "data" / "huggingface" / "hub_stats_rows.json"
LARGE_RECORD_BYTES = 4000  # records above this (long cards, model-index tables) are the Hub's few popular models
LARGE_RECORD_SHARE = 50  # one model in this many is drawn from the large records
DAYS = ("2025-06-01T06:00:00Z", "2025-06-02T06:00:00Z", "2025-06-03T06:00:00Z")
FIRST_CREATED = 1_740_000_000  # the newest day-1 model's createdAt (2025-02-19); older ones 37 s apart
MASK = (1 << 64) - 1
LISTED = frozenset(("_id", "id", *EXPAND))  # the keys of a listing entry


def mix(value: int) -> int:
    """splitmix64: a well-spread 64-bit hash of an int, so each model's traits are fixed and independent."""
    value = (value + 0x9E3779B97F4A7C15) & MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK
    return value ^ (value >> 31)


def real_templates() -> tuple[list[dict], list[dict]]:
    """The real listing-shaped records, trimmed to the expand[] fields: (ordinary, large)."""
    records: dict[str, dict] = {}
    for page in sorted(SNAPSHOTS.glob("*/huggingface.co/api/models*")):
        if not page.name.endswith(META_SUFFIX):
            for entry in json.loads(page.read_text()):
                records[json.dumps(entry, sort_keys=True)] = entry
    for row in json.loads(HUB_STATS_ROWS.read_text()):
        entry = {key: value for key, value in row["row"].items() if key in LISTED and value is not None}
        if isinstance(entry.get("cardData"), str):  # the dump's card is JSON text; the listing's an object
            entry["cardData"] = json.loads(entry["cardData"])
        records[json.dumps(entry, sort_keys=True)] = entry
    ordinary, large = [], []
    for entry in records.values():
        entry = {key: value for key, value in entry.items() if key in LISTED}
        (large if len(json.dumps(entry)) > LARGE_RECORD_BYTES else ordinary).append(entry)
    return ordinary, large


@dataclass
class Day:
    """Which models a day lists and how their content differs from day 1's."""

    number: int
    models: int  # day 1's count; day 2 adds 0.5% and removes 0.1%

    def listed(self):
        """Model numbers in listing order (`sort=createdAt`, newest first): day 2's new models come first."""
        if self.number > 1:
            yield from range(self.models + self.models // 200 - 1, self.models - 1, -1)
        for number in range(self.models):
            if self.number == 1 or mix(number) % 1000 != 0:
                yield number


@dataclass
class Generator:
    """Builds the listing entry of model `number` as it stands on a day."""

    ordinary: list[dict]
    large: list[dict]
    models: int  # day 1's count: numbers from here on are day 2's new models, the newest
    authors: int

    def entry(self, number: int, day: int) -> dict:
        trait = mix(number)
        pool = self.large if trait % LARGE_RECORD_SHARE == 0 else self.ordinary
        template = pool[(trait >> 8) % len(pool)]
        author = f"org{(trait >> 20) % self.authors}"
        created = FIRST_CREATED + 37 * (number - self.models + 1 if number >= self.models else -number)
        entry = dict(template)
        entry["_id"] = f"{number:024x}"
        entry["id"] = f"{author}/{template['id'].rsplit('/', 1)[-1]}-{number}"
        entry["author"] = author
        entry["createdAt"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(created))
        commit = (trait >> 40) % 10_000_000
        changes = day > 1 and (trait >> 12) % 50 == 0  # 2% change an element on day 2
        kind = (trait >> 18) % 3
        if changes and kind == 0:
            commit += 1
        entry["lastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(created + 3600 + commit % 86_400))
        entry["sha"] = f"{mix(commit + number):016x}{mix(commit ^ number):016x}{mix(number):016x}"[:40]
        if changes and kind == 1:
            entry["tags"] = [*template.get("tags", ()), "endpoints_compatible" if "endpoints_compatible" not in template.get("tags", ()) else "autotrain_compatible"]
        if changes and kind == 2:
            entry["gated"] = "manual" if template.get("gated") in (False, None) else False
        downloads = int(10 ** ((trait >> 24) % 700 / 100))  # 1 .. 10 million, most small
        if day > 1 and (trait >> 32) % 100 < 60:  # 60% of download counters move
            downloads += 1 + (trait >> 48) % 97
        entry["downloads"] = downloads
        entry["likes"] = downloads // 1000
        if "trendingScore" in entry or (trait >> 4) % 4 == 0:
            entry["trendingScore"] = downloads // 100_000
        return entry


def write_day(directory: Path, day: Day, generator: Generator, observed_at: str) -> tuple[int, int]:
    """Write one day's listing replay, page by page; returns (models, bytes of pages)."""
    first = listing_url({})
    url, page, number, written, models = first, [], 0, 0, 0

    def flush(next_url: str | None) -> None:
        nonlocal written
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "RateLimit": f'"api";r={499 - number % 500};t={300 - number % 300}',
            "RateLimit-Policy": POLICY,
        }
        if next_url:
            headers["Link"] = f'<{next_url}>; rel="next"'
        parts = urlsplit(url)
        path = local_path(directory, f"/{parts.netloc}{parts.path}?{parts.query}")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode()
        path.write_bytes(body)
        path.with_name(path.name + META_SUFFIX).write_text(json.dumps({"url": url, "status": 200, "headers": headers}))
        written += len(body)

    for model in day.listed():
        if len(page) == PAGE_SIZE:
            following = f"{first}&cursor={cursor(page[-1])}"
            flush(following)
            url, page, number = following, [], number + 1
        page.append(generator.entry(model, day.number))
        models += 1
    flush(None)
    snapshot = {"store": "huggingface", "observed_at": observed_at, "reconstructed": True,
                "source": {"repository": "GENERATED by bench/hub_scale.py from real Hub records"}, "models": models}
    (directory / "SNAPSHOT.json").write_text(json.dumps(snapshot, indent=1) + "\n")
    return models, written


def link_day(source: Path, target: Path, observed_at: str) -> None:
    """The same pages a day later: hard links, a new SNAPSHOT.json."""
    shutil.copytree(source, target, copy_function=os.link, ignore=shutil.ignore_patterns("SNAPSHOT.json"))
    snapshot = json.loads((source / "SNAPSHOT.json").read_text())
    (target / "SNAPSHOT.json").write_text(json.dumps({**snapshot, "observed_at": observed_at}, indent=1) + "\n")


# -- measuring ----------------------------------------------------------------------------------------------


def peak_rss(pid: int) -> int:
    """A process's peak resident set (VmHWM) in bytes; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += map(int, children)
        queue += map(int, children)
    return found


def backend_cpu_ticks(database: str) -> dict[int, int]:
    """User + system clock ticks so far of each PostgreSQL backend serving DATABASE (its process title names it)."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
            if title.startswith("postgres:") and f" {database} " in title:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return ticks


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float  # user + system time of the command and its replay server: the machine may be shared
    crawl_rss: int  # peak RSS of the command's process
    server_rss: int  # peak RSS of its replay server child (0: none)
    output: str
    server_cpu_seconds: float = 0.0  # PostgreSQL: CPU time of the backends serving the benchmark's database


def run_measured(arguments: list[str], stdout=subprocess.PIPE, postgres_database: str | None = None) -> Measured:
    """Run `storewatch ARGUMENTS`, sampling the peak RSS of it and of its replay server every 50 ms, and the CPU
    time of the PostgreSQL backends serving POSTGRES_DATABASE (the server is not our child: its work would go
    uncounted; a backend's last 50 ms before it exits may be missed)."""
    command = [sys.executable, "-m", "crawler.cli", *arguments]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    started, cpu_before = time.perf_counter(), cpu_of_children()
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=stdout, stderr=subprocess.PIPE, text=True)
    crawl_rss, server_rss = 0, 0
    backend_before = backend_cpu_ticks(postgres_database) if postgres_database else {}
    backend_ticks = dict(backend_before)
    while process.poll() is None:
        crawl_rss = max(crawl_rss, peak_rss(process.pid))
        for child in descendants(process.pid):
            server_rss = max(server_rss, peak_rss(child))
        if postgres_database:
            backend_ticks.update(backend_cpu_ticks(postgres_database))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    output, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"storewatch {' '.join(arguments)} exited with {process.returncode}:\n{errors[-3000:]}")
    backend_seconds = sum(ticks - backend_before.get(pid, 0) for pid, ticks in backend_ticks.items()) / os.sysconf("SC_CLK_TCK")
    return Measured(seconds, cpu_of_children() - cpu_before, crawl_rss, server_rss, output or "", backend_seconds)


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu(run: Measured) -> str:
    return f", PostgreSQL backends {run.server_cpu_seconds:.1f} s CPU" if run.server_cpu_seconds else ""


class Database:
    """The benchmark's database: a SQLite file, or a fresh PostgreSQL database created beside the given one."""

    def __init__(self, work: Path, server_url: str | None) -> None:
        self.server_url = server_url
        if server_url is None:
            self.path = work / "hub.db"
            self.url = str(self.path)
            self.name = None
            return
        from sqlalchemy import create_engine, text

        self.name = f"storewatch_hub_bench_{os.getpid()}"
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {self.name}"))
        self.url = self.admin.url.set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.server_url is not None:
            from sqlalchemy import text

            with self.admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            self.admin.dispose()

    def table_sizes(self) -> dict[str, tuple[int, int, int]]:
        """PostgreSQL: each table's (heap, TOAST with the free-space and visibility maps, indexes) in bytes; {} on SQLite."""
        if self.server_url is None:
            return {}
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT tablename, pg_relation_size(quote_ident(tablename)), "
                        "pg_table_size(quote_ident(tablename)) - pg_relation_size(quote_ident(tablename)), "
                        "pg_indexes_size(quote_ident(tablename)) FROM pg_tables WHERE schemaname = current_schema()"
                    )
                ).all()
        finally:
            engine.dispose()
        return {name: (heap, toast, indexes) for name, heap, toast, indexes in rows}

    def state(self) -> tuple[int, int, int]:
        """(bytes, version rows, metric rows) as the database stands."""
        from sqlalchemy import create_engine, func, inspect, select, table, text

        if self.server_url is None and not self.path.exists():
            return 0, 0, 0
        if self.server_url is None:
            connection = sqlite3.connect(self.path)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()
        engine = create_engine(self.url if self.server_url else f"sqlite:///{self.path}")
        try:
            tables = inspect(engine).get_table_names()
            with engine.connect() as connection:
                count = lambda name: connection.execute(select(func.count()).select_from(table(name))).scalar()  # noqa: E731
                versions = count("model_versions") if "model_versions" in tables else 0
                # The series table, not latest_metrics (sorted first by name, and updated in place rather than grown).
                metrics = count("model_metrics") if "model_metrics" in tables else 0
                if self.server_url is None:
                    size = self.path.stat().st_size
                else:
                    size = connection.execute(
                        text("SELECT coalesce(sum(pg_total_relation_size(quote_ident(tablename))), 0) FROM pg_tables WHERE schemaname = current_schema()")
                    ).scalar()
        finally:
            engine.dispose()
        return int(size), versions, metrics


def print_table_growth(before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]) -> None:
    """PostgreSQL: what grew, per table (heap / TOAST / indexes), no VACUUM in between."""
    for name in sorted(after):
        grown = [new - old for new, old in zip(after[name], before.get(name, (0, 0, 0)))]
        if any(abs(part) >= 100_000 for part in grown):
            print(f"    {name}: heap +{grown[0] / 1e6:.2f} MB, TOAST +{grown[1] / 1e6:.2f} MB, indexes +{grown[2] / 1e6:.2f} MB", flush=True)


def megabytes(count: int) -> str:
    return f"{count / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1_000_000, help="models listed on day 1 (default 1,000,000)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (replays and database; a PostgreSQL database too)")
    parser.add_argument("--database-url", help="a PostgreSQL server URL: the benchmark creates (and drops) its own database there")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the replays already in --dir")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="storewatch-hub-"))
    work.mkdir(parents=True, exist_ok=True)
    days = [work / f"day{number}" for number in (1, 2, 3)]
    if not args.skip_generate:
        ordinary, large = real_templates()
        generator = Generator(ordinary, large, args.models, authors=max(1, args.models // 12))
        for number, directory in enumerate(days[:2], 1):
            shutil.rmtree(directory, ignore_errors=True)
            started = time.perf_counter()
            models, size = write_day(directory, Day(number, args.models), generator, DAYS[number - 1])
            seconds = time.perf_counter() - started
            print(f"generated day {number}: {models:,} models, {megabytes(size)} of pages ({size // models:,} bytes/model) in {seconds:.1f} s", flush=True)
        shutil.rmtree(days[2], ignore_errors=True)
        link_day(days[1], days[2], DAYS[2])
    database = Database(work, args.database_url)
    try:
        if args.database_url is None and database.path.exists():
            database.path.unlink()
        first_size = None
        for number, directory in enumerate(days, 1):
            models = json.loads((directory / "SNAPSHOT.json").read_text())["models"]
            before, tables_before = database.state(), database.table_sizes()
            run = run_measured(["crawl", "huggingface", "--replay", str(directory), "--db", database.url], postgres_database=database.name)
            after = database.state()
            growth = after[0] - before[0]
            first_size = first_size or after[0]
            print(
                f"day {number}: {models:,} models in {run.seconds:.1f} s = {models / run.seconds:,.0f} models/s "
                f"({run.cpu_seconds:.1f} s CPU = {models / run.cpu_seconds:,.0f} models per CPU second{postgres_cpu(run)}); "
                f"peak RSS crawl {megabytes(run.crawl_rss)}, replay server {megabytes(run.server_rss)}; "
                f"{after[1] - before[1]:,} version rows, {after[2] - before[2]:,} metric rows; "
                f"database +{megabytes(growth)} ({100 * growth / first_size:.1f}% of day 1's {megabytes(first_size)})",
                flush=True,
            )
            print(f"    {run.output.strip()}", flush=True)
            print_table_growth(tables_before, database.table_sizes())
        diff = run_measured(["diff", "huggingface", "--from", "run:1", "--to", "run:2", "--format", "json", "--db", database.url], stdout=subprocess.DEVNULL, postgres_database=database.name)
        print(f"diff day 1 -> day 2: {diff.seconds:.2f} s ({diff.cpu_seconds:.2f} s CPU{postgres_cpu(diff)}), peak RSS {megabytes(diff.crawl_rss)}")
        help_text = run_measured(["models", "--help"]).output
        output_format = "jsonl" if "jsonl" in help_text else "csv"
        listing = run_measured(["models", "huggingface", "--format", output_format, "--db", database.url], stdout=subprocess.DEVNULL, postgres_database=database.name)
        print(f"models --format {output_format}: {listing.seconds:.1f} s ({listing.cpu_seconds:.1f} s CPU{postgres_cpu(listing)}), peak RSS {megabytes(listing.crawl_rss)}")
    finally:
        if not args.keep:
            database.drop()
        else:
            print(f"kept: {database.url}")
        if not args.keep and args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
