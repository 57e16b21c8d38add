"""Git backfill check and benchmark: each store backfilled from a clone of its repository, compared with the
recorded site mirrors (../shared/realdata/mirrors), and timed.

For each store: `storewatch backfill STORE --git CLONE --every EVERY` into a new SQLite database (timed, a
process of its own as a user runs it), and `storewatch crawl STORE --replay <mirror>...` of every mirror date
into another (the live spider reading what the store served that day). Then, for every mirror date D, the
backfill's `models --as-of D` must equal the crawled mirror run's models: same ids, same elements. A tfhub
mirror's listing names only the docs the mirror holds (mirrors/README.md), so there every model the mirror
holds must be in the backfill with the same elements, and models the backfill has beyond them are counted,
not failed. Not part of `make test`: it needs the clones and ../shared.

    python bench/git_backfill.py [--stores pytorch_hub,tfhub,onnx_zoo] [--clones /work/.mirror] [--backfill '--every 1M']
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

from storage import queries  # noqa: E402
from storage.db import open_database  # noqa: E402

MIRRORS = ROOT.parent / "shared" / "realdata" / "mirrors"
CLONES = {"pytorch_hub": "pytorch+hub", "tfhub": "tensorflow+tfhub.dev", "onnx_zoo": "onnx+models"}
# The targets: a daily backfill of PyTorch Hub from 2019-06 (<= 2 min), every commit of tfhub.dev (<= 10 min).
RUNS = {
    "pytorch_hub": ("--from", "2019-06-01", "--every", "1D"),
    "tfhub": ("--every", "commit"),
    "onnx_zoo": ("--every", "commit"),
}
SUBSET_MIRRORS = {"tfhub"}  # listings cut to the docs the mirror holds


def storewatch(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, cwd=ROOT,
        env=os.environ | {"STOREWATCH_ARCHIVE": "off", "PYTHONPATH": str(ROOT)},
    )
    if result.returncode != 0:
        raise SystemExit(f"storewatch {' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-600:]}")
    return time.perf_counter() - started, result.stdout


def end_of(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=23, minute=59, second=59, tzinfo=timezone.utc)


def check_store(store: str, clone: Path, work: Path, args: tuple[str, ...]) -> bool:
    backfilled, mirrored = work / f"{store}-git.db", work / f"{store}-mirrors.db"
    seconds, _ = storewatch("backfill", store, "--git", str(clone), *args, "--db", str(backfilled))
    engine = open_database(str(backfilled))
    runs = queries.list_runs(engine, store)
    versions = sum(1 for _ in queries.iter_all_versions(engine, store))
    print(f"{store}: backfill {' '.join(args)}: {len(runs)} runs, {versions} versions in {seconds:.1f} s")
    dates = sorted(path.name for path in (MIRRORS / store).iterdir() if path.is_dir())
    storewatch("crawl", store, *[arg for day in dates for arg in ("--replay", str(MIRRORS / store / day))], "--db", str(mirrored))
    mirror_engine = open_database(str(mirrored))
    agreed = True
    for day in dates:
        expected = {row.pop("model_id"): row for row in queries.models_as_of(mirror_engine, store, end_of(day))}
        found = {row.pop("model_id"): row for row in queries.models_as_of(engine, store, end_of(day))}
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        differing = sorted(model for model in set(expected) & set(found) if expected[model] != found[model])
        ok = not missing and not differing and (store in SUBSET_MIRRORS or not extra)
        agreed &= ok
        note = f" ({len(extra)} more models in the backfill than the mirror's cut listing)" if extra and store in SUBSET_MIRRORS else ""
        print(f"  {day}: mirror {len(expected)} models, backfill {len(found)}; missing {len(missing)}, extra {len(extra)}, "
              f"different {len(differing)}: {'agree' if ok else 'DISAGREE'}{note}")
        for model in (missing + differing + ([] if store in SUBSET_MIRRORS else extra))[:3]:
            print(f"      {model}: mirror {str(expected.get(model))[:200]} / backfill {str(found.get(model))[:200]}")
    engine.dispose()
    mirror_engine.dispose()
    return agreed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="pytorch_hub,tfhub,onnx_zoo")
    parser.add_argument("--clones", type=Path, default=Path("/work/.mirror"), help="folder holding <owner>+<name>/repo clones")
    parser.add_argument("--backfill", help="the backfill's own options instead of the targets', e.g. '--from 2019-06-01 --to 2024-04-30 --every 1M'")
    options = parser.parse_args()
    agreed = True
    with tempfile.TemporaryDirectory(prefix="storewatch-bench-git-") as folder:
        for store in options.stores.split(","):
            clone = options.clones / CLONES[store] / "repo"
            if not clone.exists():
                print(f"{store}: no clone at {clone}: skipped")
                continue
            agreed &= check_store(store, clone, Path(folder), tuple(options.backfill.split()) if options.backfill else RUNS[store])
    print("every mirror date agrees" if agreed else "some mirror dates DISAGREE")
    sys.exit(0 if agreed else 1)


if __name__ == "__main__":
    main()
