"""Writer-alone scale benchmark: N Hub-shaped records through the snapshot writer (no Scrapy), two days.

Day 1 records N models into an empty SQLite database. Day 2 is the next day: 60% of the download counters
moved, 2% of the models changed an element, 0.5% are new and 0.1% are gone. Each day runs in a process of its
own, so that its peak RSS (resource.getrusage) is its own. Prints per day: models/s and models per CPU second
(records built, staged and applied), peak RSS, version rows and metric rows written, database growth.

`--layout apart` passes the counters to the writer apart from the record (how spiders declare them now);
`--layout inline` keeps them inside the record's elements and raw part, as storewatch stored them before
counters became metrics -- the layout to use when measuring an older writer (point PYTHONPATH at its checkout).

    python bench/writer_scale.py [--models 200000] [--layout apart|inline] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

DAYS = {1: datetime(2025, 1, 1, tzinfo=timezone.utc), 2: datetime(2025, 1, 2, tzinfo=timezone.utc)}
TASKS = ["text-generation", "text-classification", "image-classification", "automatic-speech-recognition", "feature-extraction"]
LIBRARIES = ["transformers", "diffusers", "timm", "sentence-transformers", "gguf"]
LICENSES = ["apache-2.0", "mit", "llama3", "cc-by-4.0", "other"]


def day_models(count: int, day: int):
    """(index, model_id, counters, element_changed) of every model the store lists on `day`: 60% of the download
    counters move on day 2, 2% of the models change an element, 0.5% are added and 0.1% removed."""
    total = count + (count // 200 if day == 2 else 0)
    for index in range(total):
        if day == 2 and index < count and index % 1000 == 999:
            continue
        downloads = 1000 + index % 97_000
        if day == 2 and index % 5 < 3:
            downloads += 1 + index % 50
        counters = {"downloads": downloads, "likes": index % 300, "trending_score": (index % 11) / 4}
        yield index, f"org{index % 20_000}/model-{index}", counters, day == 2 and index % 50 == 7


def hub_record(index: int, model_id: str, changed: bool) -> tuple[dict, dict]:
    """Elements and raw part shaped like a Hub listing entry (expand[] with tags, cardData, safetensors...)."""
    author = model_id.split("/")[0]
    sha = f"{index:040x}" if not changed else f"{index + 1:040x}"
    tags = [LIBRARIES[index % 5], TASKS[index % 5], "safetensors", f"license:{LICENSES[index % 5]}", "en", "region:us"]
    elements = {
        "name": model_id,
        "provider": author,
        "task": TASKS[index % 5],
        "keywords": tags,
        "license": LICENSES[index % 5],
        "framework": LIBRARIES[index % 5],
        "published_at": "2024-05-01T10:00:00.000Z",
        "updated_at": "2024-11-02T08:30:00.000Z" if not changed else "2025-01-02T06:00:00.000Z",
        "size": 1_000_000 * (1 + index % 700),
        "access": {"gated": False, "private": False},
        "version": sha,
        "popularity": ["downloads", "likes", "trending_score"],
    }
    raw = {
        "_id": f"{index:024x}",
        "id": model_id,
        "author": author,
        "sha": sha,
        "createdAt": "2024-05-01T10:00:00.000Z",
        "lastModified": elements["updated_at"],
        "private": False,
        "gated": False,
        "pipeline_tag": TASKS[index % 5],
        "library_name": LIBRARIES[index % 5],
        "tags": tags,
        "safetensors": {"parameters": {"F32": elements["size"]}, "total": elements["size"]},
        "cardData": {"license": LICENSES[index % 5], "language": ["en"], "tags": tags[:2]},
        "config": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
    }
    return elements, raw


def record_day(database: Path, count: int, day: int, layout: str) -> dict:
    sys.path.insert(0, str(Path.cwd()))
    from storage.db import open_database
    from storage.writer import SnapshotWriter

    engine = open_database(f"sqlite:///{database}")
    before = database_sizes(database)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    writer = SnapshotWriter(engine, "huggingface", DAYS[day], "huggingface/bench")
    writer.start()
    for index, model_id, counters, changed in day_models(count, day):
        elements, raw = hub_record(index, model_id, changed)
        if layout == "inline":
            raw.update({"downloads": counters["downloads"], "likes": counters["likes"], "trendingScore": counters["trending_score"]})
            elements["popularity"] = {"downloads": counters["downloads"], "likes": counters["likes"]}
            writer.add(model_id, elements, raw)
        else:
            writer.add(model_id, elements, raw, counters)
    summary = writer.finish("complete")
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    engine.dispose()
    after = database_sizes(database)
    return {
        "day": day,
        "models": summary.models_seen,
        "models_per_s": round(summary.models_seen / elapsed),
        "seconds": round(elapsed, 1),
        "cpu_s": round(cpu, 2),
        "models_per_cpu_s": round(summary.models_seen / cpu),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "added": summary.added,
        "changed": summary.changed,
        "removed": summary.removed,
        "version_rows": after["model_versions"] - before["model_versions"],
        "metric_rows": after["model_metrics"] - before["model_metrics"],
        "db_mb": round(after["bytes"] / 1e6, 1),
        "growth_mb": round((after["bytes"] - before["bytes"]) / 1e6, 1),
    }


def cpu_seconds() -> float:
    """This process's user and system CPU time: on a shared machine, wall time also measures the neighbours."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def database_sizes(database: Path) -> dict:
    """The file's bytes after a WAL checkpoint, and its version and metric rows (no metrics table: 0)."""
    if not database.exists():
        return {"bytes": 0, "model_versions": 0, "model_metrics": 0}
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    rows = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table in tables else 0 for table in ("model_versions", "model_metrics")}
    connection.close()
    return {"bytes": database.stat().st_size, **rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200_000)
    parser.add_argument("--layout", choices=("apart", "inline"), default="apart", help="counters apart from the record, or inside it")
    parser.add_argument("--keep", type=Path, help="keep the database in this folder")
    parser.add_argument("--day", type=int, choices=(1, 2), help=argparse.SUPPRESS)  # one day, in a process of its own
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.day:
        print(json.dumps(record_day(args.database, args.models, args.day, args.layout)))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="storewatch-writer-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    database = work / "bench.db"
    try:
        for day in (1, 2):
            child = subprocess.run(
                [sys.executable, __file__, "--models", str(args.models), "--layout", args.layout, "--day", str(day), "--database", str(database)],
                check=True, capture_output=True, text=True,
            )
            print(child.stdout.strip().splitlines()[-1], flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
