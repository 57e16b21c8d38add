"""Ingest benchmark: replay the largest TF Hub snapshot into an empty SQLite database, then re-crawl it unchanged.

Prints, per run: documents/s end to end (replay server start, crawl, database writes), version rows written,
and the database's size (file bytes, and row payload bytes from SQLite's dbstat). Targets: >= 1,000
documents/s; 0 version rows and < 1 KB of growth for the unchanged re-crawl.

Reads ../shared/realdata/mirrors/tfhub when it is there (the largest snapshot, 2024-03-19), else the largest
snapshot shipped in snapshots/tfhub.

    python bench/ingest.py [--snapshot DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.replay import Snapshot  # noqa: E402
from crawler.runner import run_crawls  # noqa: E402
from storage.db import open_database  # noqa: E402

SHARED = ROOT.parent / "shared" / "realdata" / "mirrors" / "tfhub"


def largest_snapshot() -> Path:
    candidates = sorted(SHARED.glob("*/SNAPSHOT.json")) or sorted((ROOT / "snapshots" / "tfhub").glob("*/SNAPSHOT.json"))
    return max((path.parent for path in candidates), key=lambda d: sum(f.stat().st_size for f in d.rglob("*") if f.is_file()))


def database_bytes(path: Path) -> tuple[int, int, int]:
    """(file bytes after a WAL checkpoint, row payload bytes, version rows)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    payload = connection.execute("SELECT sum(payload) FROM dbstat").fetchone()[0]
    versions = connection.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    connection.close()
    return path.stat().st_size, payload, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, help="TF Hub snapshot directory (default: the largest available)")
    args = parser.parse_args()
    source = args.snapshot or largest_snapshot()
    work = Path(tempfile.mkdtemp(prefix="storewatch-bench-"))
    try:
        # The re-crawl is the same content observed a day later.
        again = work / "recrawl"
        shutil.copytree(source, again)
        meta = json.loads((again / "SNAPSHOT.json").read_text())
        day_after = Snapshot.load(source).observed_at + timedelta(days=1)
        (again / "SNAPSHOT.json").write_text(json.dumps({**meta, "observed_at": day_after.isoformat()}))

        database = work / "bench.db"
        url = f"sqlite:///{database}"
        started = time.perf_counter()
        open_database(url).dispose()  # creating the schema is set-up, not ingest
        print(f"schema created in {time.perf_counter() - started:.2f} s")
        timings: list[float] = [time.perf_counter()]
        sizes = []

        def measured(summary) -> None:
            timings.append(time.perf_counter())
            sizes.append(database_bytes(database))
            timings.append(time.perf_counter())  # the next run's clock starts after this measurement

        summaries = run_crawls([("tfhub", Snapshot.load(source)), ("tfhub", Snapshot.load(again))], database_url=url, on_result=measured)
        print(f"snapshot: {source}")
        previous = (0, 0, 0)
        for index, summary in enumerate(summaries):
            seconds = timings[2 * index + 1] - timings[2 * index]
            documents = summary["models_seen"] + 1  # every model doc plus the tree listing
            file_bytes, payload, versions = sizes[index]
            label = "first crawl" if index == 0 else "unchanged re-crawl"
            print(
                f"{label:>19}: {documents} documents in {seconds:.2f} s = {documents / seconds:,.0f} documents/s; "
                f"version rows written {versions - previous[2]}; database {file_bytes:,} B "
                f"(+{file_bytes - previous[0]:,} B file, +{payload - previous[1]:,} B row payload)"
            )
            previous = sizes[index]
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
