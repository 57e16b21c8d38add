"""Archive benchmark: crawl a large snapshot, then the same again unchanged, with the web archive on and off.

Prints the unchanged re-crawl's archive bytes as a share of the first crawl's (target <= 5%: it writes
revisit records only) and what archiving costs in throughput (target <= 15%), first crawl and re-crawl:
responses per second of wall time and per CPU second of the crawl process (the replay server, the same
either way, is another process; CPU time is what a shared machine does not inflate). Medians of ROUNDS
rounds each way, interleaved (on, off, on, off...). Each round is a process of its own (one Twisted reactor
per process) with a new SQLite database and archive folder; its crawls are timed as bench/ingest.py times
them, replay server start included.

The snapshot: TF Hub 2024-03-19 from ../shared/realdata/mirrors/tfhub (3,342 responses of 15 KB on
average), else the largest in snapshots/tfhub; or, with --hub N, a generated Hugging Face Hub listing of N
models (bench/hub_scale.py's generator: pages of 1,000 models, 1.6 MB each).

    python bench/archive.py [--rounds 3] [--snapshot DIR | --hub 20000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import largest_snapshot  # noqa: E402


def one_round(store: str, source: Path, again: Path, work: Path, archive: bool) -> dict:
    """Both crawls in this process: wall and CPU seconds, responses and archive bytes of each run."""
    from sqlalchemy import func, select

    from crawler.replay import Snapshot
    from crawler.runner import run_crawls
    from storage.db import open_database
    from storage.models import ArchiveFile, CrawlRun

    url = f"sqlite:///{work / 'bench.db'}"
    open_database(url).dispose()  # creating the schema is set-up
    marks, cpu = [time.perf_counter()], [time.process_time()]

    def measured(summary) -> None:
        marks.append(time.perf_counter())
        cpu.append(time.process_time())

    summaries = run_crawls(
        [(store, Snapshot.load(source)), (store, Snapshot.load(again))],
        database_url=url,
        on_result=measured,
        extra_settings={"STOREWATCH_ARCHIVE": archive, "STOREWATCH_ARCHIVE_DIR": str(work / "archive")},
    )
    runs = [summary["run_id"] for summary in summaries]
    engine = open_database(url)
    with engine.connect() as connection:
        sizes = dict(connection.execute(select(ArchiveFile.run_id, func.sum(ArchiveFile.bytes)).group_by(ArchiveFile.run_id)).all())
        stats = dict(connection.execute(select(CrawlRun.id, CrawlRun.stats).where(CrawlRun.id.in_(runs))).all())
    engine.dispose()
    return {
        "seconds": [marks[1] - marks[0], marks[2] - marks[1]],
        "cpu_seconds": [cpu[1] - cpu[0], cpu[2] - cpu[1]],
        "responses": [stats[run]["downloader/response_count"] for run in runs],
        "archive_bytes": [int(sizes.get(run, 0)) for run in runs],
    }


def run_round(store: str, source: Path, again: Path, work: Path, archive: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="round-", dir=work))
    try:
        command = [sys.executable, __file__, "--round", store, "on" if archive else "off", str(source), str(again), str(folder)]
        result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def tfhub_days(source: Path, work: Path) -> tuple[Path, Path]:
    """The snapshot, and a copy of it observed a day later."""
    from crawler.replay import Snapshot

    again = work / "recrawl"
    shutil.copytree(source, again)
    meta = json.loads((again / "SNAPSHOT.json").read_text())
    day_after = Snapshot.load(source).observed_at + timedelta(days=1)
    (again / "SNAPSHOT.json").write_text(json.dumps({**meta, "observed_at": day_after.isoformat()}))
    return source, again


def hub_days(models: int, work: Path) -> tuple[Path, Path]:
    """A generated Hub listing of `models` models, and the same pages a day later (bench/hub_scale.py)."""
    from bench.hub_scale import DAYS, Day, Generator, link_day, real_templates, write_day

    ordinary, large = real_templates()
    first, again = work / "hub1", work / "hub2"
    write_day(first, Day(1, models), Generator(ordinary, large, models, authors=max(1, models // 12)), DAYS[0])
    link_day(first, again, DAYS[1])
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, help="TF Hub snapshot directory (default: the largest available)")
    parser.add_argument("--hub", type=int, metavar="MODELS", help="crawl a generated Hugging Face Hub listing of MODELS models instead")
    parser.add_argument("--rounds", type=int, default=3, help="rounds with the archive on, and as many with it off")
    parser.add_argument("--round", nargs=5, metavar=("STORE", "ON_OFF", "SOURCE", "AGAIN", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.round:
        store, mode, source, again, work = args.round
        print(json.dumps(one_round(store, Path(source), Path(again), Path(work), mode == "on")))
        return
    work = Path(tempfile.mkdtemp(prefix="storewatch-bench-archive-"))
    try:
        store = "huggingface" if args.hub else "tfhub"
        source, again = hub_days(args.hub, work) if args.hub else tfhub_days(args.snapshot or largest_snapshot(), work)
        rounds: dict[bool, list[dict]] = {True: [], False: []}
        for _ in range(args.rounds):
            for archive in (True, False):
                rounds[archive].append(run_round(store, source, again, work, archive))
        report(f"{store} {args.hub:,} models" if args.hub else str(source), rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(what: str, rounds: dict[bool, list[dict]]) -> None:
    print(f"{what}: {len(rounds[True])} rounds each way, interleaved; medians")
    first, second = (statistics.median(r["archive_bytes"][index] for r in rounds[True]) for index in (0, 1))
    print(f"archive: first crawl {first:,.0f} B, unchanged re-crawl {second:,.0f} B = {100 * second / first:.1f}% of the first (target <= 5%)")
    for index, label in enumerate(("first crawl", "unchanged re-crawl")):
        for clock, unit in (("seconds", "responses/s"), ("cpu_seconds", "responses per CPU second")):
            rate = {archive: statistics.median(r["responses"][index] / r[clock][index] for r in rounds[archive]) for archive in (True, False)}
            cost = 100 * (1 - rate[True] / rate[False])
            print(f"{label:>19}: {rate[False]:,.0f} {unit} without the archive, {rate[True]:,.0f} with it: costs {cost:.1f}% (target <= 15%)")


if __name__ == "__main__":
    main()
