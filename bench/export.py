"""Export benchmark: `storewatch export STORE --out FILE.parquet` of a store of a million models.

The store is bench/models_stream.py's: N generated models shaped like Hub listing entries, recorded through the
snapshot writer (its `generate`), kept in a SQLite file that later runs reuse (`--db`, default
/tmp/storewatch-bench-export-N.db). The export runs end to end in a fresh process (interpreter start-up
included), so its peak RSS is its own; then the file is read back to check its row count.

Targets (issue 12): a million models to Parquet in <= 30 s with peak RSS <= 500 MB.

    python bench/export.py [--models 1000000] [--db PATH] [--format parquet|csv|jsonl] [--versions]
    python bench/export.py --models 100000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_export

With --database-url (an empty database of your own, e.g. PostgreSQL's), the store is generated there when it
has no models yet, and exported from there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from models_stream import STORE, generate  # noqa: E402  the store builder of bench/models_stream.py


def run(command: list[str]) -> tuple[float, float, int]:
    """Run `command` to its end: (seconds, CPU seconds, peak RSS in KB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def has_models(url: str) -> bool:
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False
    from sqlalchemy import func, select

    from storage.db import open_database
    from storage.models import Model

    engine = open_database(url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(Model).where(Model.store == STORE)).scalar()
    engine.dispose()
    return count > 0


def rows_in(path: Path, format: str) -> int:
    if format == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as lines:
        return sum(1 for _ in lines) - (format == "csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="SQLite file to use (generated when missing)")
    parser.add_argument("--database-url", help="a database URL to use instead of a SQLite file (generated when empty)")
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv", "jsonl"))
    parser.add_argument("--versions", action="store_true", help="export the version table instead of the models as of now")
    args = parser.parse_args()
    path = args.db or Path(tempfile.gettempdir()) / f"storewatch-bench-export-{args.models}.db"
    url = args.database_url or f"sqlite:///{path}"
    if not has_models(url):
        seconds = generate(url, args.models)
        print(f"generated {args.models:,} models through the writer in {seconds:.1f} s")
    with tempfile.TemporaryDirectory(prefix="storewatch-export-") as folder:
        out = Path(folder) / f"{STORE}.{args.format}"
        command = [sys.executable, "-m", "crawler.cli", "export", STORE, "--db", url, "--out", str(out)]
        seconds, cpu, rss = run(command + (["--versions"] if args.versions else []))
        rows = rows_in(out, args.format)
        print(f"export {'--versions ' if args.versions else ''}to {args.format}: {rows:,} rows in {seconds:.1f} s "
              f"(CPU {cpu:.1f} s, {rows / seconds:,.0f} rows/s), peak RSS {rss / 1024:,.0f} MB, file {out.stat().st_size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
