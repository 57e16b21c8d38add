"""Diff benchmark: a 1,000,000-model store with 1% churn between two runs; times `diff` and its peak memory.

Generates the versioned tables directly with bulk SQL inserts (not the crawler): run 1 opens a version for
every model; run 2, a month later, changes 0.4% of them (closes the version, opens a new one), removes 0.3%,
adds 0.3% new models -- and writes each run's coverage row as the snapshot writer would. Then, each in a
fresh process so that its peak RSS is its own:

- the diff module: `diff_store(engine, store, run 1, run 2)` and its JSON, timed in-process;
- `storewatch diff STORE --from D1 --to D2 --format json`, end to end (interpreter start-up included).

Targets (SQLite, this 2-core machine): <= 1 s and <= 300 MB peak RSS for the diff.

    python bench/diff.py [--models 1000000] [--churn 0.01] [--keep]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.models import model_key  # noqa: E402
from storage.timeutil import SQLITE_INSTANT  # noqa: E402

STORE = "tfhub"  # a store the CLI knows; the data is generated
FIRST, SECOND = "2024-01-01", "2024-02-01"
TASKS = ("image-classification", "text-generation", "object-detection", "speech-recognition", "translation")
BATCH = 50_000


def sql_instant(day: str) -> str:
    """An instant as storewatch's UTC column type stores it on SQLite (midnight of `day`)."""
    year, month, date = (int(part) for part in day.split("-"))
    return SQLITE_INSTANT % {"year": year, "month": month, "day": date, "hour": 0, "minute": 0, "second": 0, "microsecond": 0}


def elements_of(i: int, revision: int = 1) -> dict:
    elements = {"name": f"Model {i}", "provider": f"publisher{i % 997}", "task": TASKS[i % len(TASKS)], "version": str(revision)}
    if i % 5:
        elements["license"] = "apache-2.0" if revision == 1 else "mit"
    if i % 5 == 0 or i % 7 == 0:
        elements["paper"] = [f"https://arxiv.org/abs/{1500 + i % 900}.{i % 10000:05d}"]
    if revision > 1 and i % 3 == 0:
        elements["demo"] = f"https://example.org/demo/{i}"
    return elements


def model_row(i: int) -> tuple[int, str, str, str]:
    model_id = f"m{i:07d}"
    return i + 1, STORE, model_id, model_key(model_id)


def generate(url: str, models: int, churn: float, seed: int = 3) -> dict[str, int]:
    """Fill an empty database (schema by storewatch's migrations) with two runs; the churn it generated."""
    from storage.db import open_database

    engine = open_database(url)
    engine.dispose()
    connection = engine.raw_connection()
    cursor = connection.cursor()
    rng = random.Random(seed)
    changes = int(models * churn)
    changed = set(rng.sample(range(models), int(changes * 0.4)))
    removed = set(rng.sample(sorted(set(range(models)) - changed), int(changes * 0.3)))
    added = range(models, models + changes - len(changed) - len(removed))

    def runs_row(run_id: int, day: str, seen: int, **counts) -> tuple:
        return (run_id, STORE, sql_instant(day), sql_instant(day), sql_instant(day), "complete", seen, counts.get("added", 0),
                counts.get("changed", 0), counts.get("removed", 0), 0, 0, "bench/1")

    cursor.executemany(
        "INSERT INTO crawl_runs (id, store, observed_at, started_at, finished_at, status, models_seen, added, changed, removed, "
        "returned, errors, spider_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [runs_row(1, FIRST, models, added=models),
         runs_row(2, SECOND, models - len(removed) + len(added), added=len(added), changed=len(changed), removed=len(removed))],
    )
    counts: Counter = Counter()
    first = sql_instant(FIRST)
    for start in range(0, models, BATCH):
        chunk = range(start, min(start + BATCH, models))
        cursor.executemany("INSERT INTO models (id, store, model_id, model_key) VALUES (?, ?, ?, ?)", [model_row(i) for i in chunk])
        rows = []
        for i in chunk:
            elements = elements_of(i)
            counts.update(elements.keys())
            gone = i in changed or i in removed
            rows.append((i + 1, i + 1, first, sql_instant(SECOND) if gone else None, 1, 2 if gone else None, "added", "[]",
                         f"{i:032x}", json.dumps(elements), json.dumps({"id": i})))
        cursor.executemany(VERSION_INSERT, rows)
    coverage_1 = dict(counts)
    second, next_version = sql_instant(SECOND), models + 1
    rows = []
    for i in sorted(changed):
        old, new = elements_of(i), elements_of(i, 2)
        counts.subtract(old.keys())
        counts.update(new.keys())
        keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        rows.append((next_version, i + 1, second, None, 2, None, "changed", json.dumps(keys), f"{i:031x}2", json.dumps(new), json.dumps({"id": i, "r": 2})))
        next_version += 1
    for i in removed:
        counts.subtract(elements_of(i).keys())
    cursor.executemany("INSERT INTO models (id, store, model_id, model_key) VALUES (?, ?, ?, ?)", [model_row(i) for i in added])
    for i in added:
        elements = elements_of(i)
        counts.update(elements.keys())
        rows.append((next_version, i + 1, second, None, 2, None, "added", "[]", f"{i:032x}", json.dumps(elements), json.dumps({"id": i})))
        next_version += 1
    cursor.executemany(VERSION_INSERT, rows)
    cursor.executemany(
        "INSERT INTO store_coverage (run_id, models, elements) VALUES (?, ?, ?)",
        [(1, models, json.dumps(coverage_1)), (2, models - len(removed) + len(added), json.dumps({k: n for k, n in counts.items() if n > 0}))],
    )
    connection.commit()
    connection.close()
    return {"changed": len(changed), "removed": len(removed), "added": len(added)}


VERSION_INSERT = (
    "INSERT INTO model_versions (id, model_pk, valid_from, valid_to, opened_by_run, closed_by_run, change, changed_elements, "
    "content_hash, elements, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def measure(url: str) -> None:
    """In a fresh process: time the diff module and print one JSON line with the figures."""
    from storage.db import open_database
    from storage.diff import diff_store
    from storage.timeutil import parse_instant

    engine = open_database(url)
    start = time.perf_counter()
    result = diff_store(engine, STORE, parse_instant(FIRST), parse_instant(SECOND))
    payload = json.dumps(result.as_dict())
    seconds = time.perf_counter() - start
    print(json.dumps({
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "added": len(result.added), "removed": len(result.removed), "changed": len(result.changed),
        "models": [result.coverage_from.models, result.coverage_to.models], "json_bytes": len(payload),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--churn", type=float, default=0.01)
    parser.add_argument("--keep", action="store_true", help="keep the generated database and print its path")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    work = Path(tempfile.mkdtemp(prefix="storewatch-bench-diff-"))
    url = f"sqlite:///{work / 'bench.db'}"
    try:
        start = time.perf_counter()
        churn = generate(url, args.models, args.churn)
        size = (work / "bench.db").stat().st_size + sum(p.stat().st_size for p in work.glob("bench.db-*"))
        print(f"generated {args.models:,} models, churn {churn} in {time.perf_counter() - start:.1f} s; database {size / 1e6:.0f} MB")

        # the CLI first: RUSAGE_CHILDREN's peak is then the CLI's own
        start = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "diff", STORE, "--from", FIRST, "--to", SECOND, "--format", "json", "--db", url],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        printed = json.loads(cli.stdout)

        module = json.loads(subprocess.run([sys.executable, __file__, "--measure", url], check=True, capture_output=True, text=True).stdout)
        assert (module["added"], module["removed"], module["changed"]) == (churn["added"], churn["removed"], churn["changed"]), module
        assert len(printed["changed"]) == churn["changed"]
        print(f"diff module: {module['seconds']:.3f} s, peak RSS {module['peak_rss_mb']:.0f} MB "
              f"(+{module['added']} -{module['removed']} ~{module['changed']}, models {module['models'][0]:,} -> {module['models'][1]:,})")
        print(f"storewatch diff --format json, end to end (interpreter start-up included): {seconds:.3f} s, peak RSS {peak:.0f} MB")
        print("targets: diff <= 1 s, peak RSS <= 300 MB")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
