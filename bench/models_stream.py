"""Streaming benchmark: `storewatch models STORE --format jsonl|csv` on a store of 200,000 models.

Records a run of N generated models shaped like a Hub listing entry (elements: name, provider, task, keywords,
license, dates, size, popularity; a raw record of about the listing entry's size) through the snapshot writer,
then lists the store, each in a fresh process so that its peak RSS is its own:

- `storewatch models STORE --format jsonl` and `--format csv`, end to end (interpreter start-up included), the
  output read and counted by this process;
- for contrast, the rows gathered into one list first (`queries.models_as_of`, as `models` did before it streamed).

Target (issue 11): two million rows in <= 60 s with flat memory; rows/s here times 2,000,000 estimates it.

    python bench/models_stream.py [--models 200000] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STORE = "tfhub"  # a store the CLI knows; the data is generated
TASKS = ("text-generation", "text-classification", "image-classification", "automatic-speech-recognition", "translation")
LICENSES = ("apache-2.0", "mit", "other", "llama3.1", "cc-by-nc-4.0")
GATHERED = """
import sys
from storage.db import open_database
from storage.queries import models_as_of
rows = models_as_of(open_database(sys.argv[1], create=False), sys.argv[2])
print(len(rows))
"""


def record(i: int) -> tuple[str, dict, dict]:
    """A model shaped like a Hub listing entry: (model_id, elements, raw)."""
    author = f"org{i % 5000}"
    model_id = f"{author}/model-{i:07d}"
    tags = ["transformers", "safetensors", TASKS[i % len(TASKS)], f"license:{LICENSES[i % len(LICENSES)]}", "region:us"]
    elements = {
        "name": model_id.split("/")[1],
        "provider": author,
        "task": TASKS[i % len(TASKS)],
        "keywords": tags,
        "license": LICENSES[i % len(LICENSES)],
        "published_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00.000Z",
        "updated_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00.000Z",
        "size": {"parameters": 1_000_000 * (1 + i % 7000)},
        "popularity": {"downloads": i % 100_000, "likes": i % 300},
    }
    raw = {
        "_id": f"{i:024x}", "id": model_id, "author": author, "tags": tags, "pipeline_tag": TASKS[i % len(TASKS)],
        "library_name": "transformers", "createdAt": elements["published_at"], "lastModified": elements["updated_at"],
        "sha": f"{i * 2654435761 % 2**160:040x}", "private": False, "gated": False,
    }
    return model_id, elements, raw


def generate(url: str, models: int) -> float:
    """One complete run of `models` generated models through the snapshot writer; its seconds."""
    from storage.db import open_database
    from storage.writer import SnapshotWriter

    engine = open_database(url)
    started = time.perf_counter()
    writer = SnapshotWriter(engine, STORE, datetime(2025, 6, 1, tzinfo=timezone.utc), f"{STORE}/bench")
    writer.start()
    for i in range(models):
        writer.add(*record(i))
    writer.finish("complete")
    engine.dispose()
    return time.perf_counter() - started


def measure(command: list[str]) -> tuple[float, float, int, int, int]:
    """Run `command`, reading its stdout as it comes: (seconds, CPU seconds, output lines, output bytes, peak RSS
    in KB). CPU time is the steadier figure on a shared machine."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = size = 0
    while chunk := process.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
        size += len(chunk)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return seconds, usage.ru_utime + usage.ru_stime, lines, size, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200_000)
    parser.add_argument("--db", type=Path, help="SQLite file to use (generated when missing)")
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="storewatch-models-stream-"))
    path = args.db or folder / "storewatch.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        seconds = generate(url, args.models)
        print(f"generated {args.models:,} models through the writer in {seconds:.1f} s ({args.models / seconds:,.0f}/s), "
              f"database {path.stat().st_size / 1e6:.0f} MB")
    cli = [sys.executable, "-m", "crawler.cli", "models", STORE, "--db", url, "--format"]
    for label, command in (
        ("models --format jsonl", [*cli, "jsonl"]),
        ("models --format csv", [*cli, "csv"]),
        ("rows gathered in a list", [sys.executable, "-c", GATHERED, url, STORE]),
    ):
        seconds, cpu, lines, size, rss = measure(command)
        rows = lines - (label.endswith("csv"))  # the header line
        rate = f"{rows / seconds:,.0f} rows/s ({rows / cpu:,.0f} per CPU second), " if rows > 1 else ""
        print(f"{label:<26} {seconds:6.1f} s, CPU {cpu:5.1f} s  {rate}{size / 1e6:,.0f} MB out, peak RSS {rss / 1024:,.0f} MB")
    if not args.keep and not args.db:
        path.unlink()
        folder.rmdir()
    elif not args.db:
        print(f"kept {path}")


if __name__ == "__main__":
    main()
