"""Re-extraction benchmark: a store's history crawled from its snapshots, then rebuilt from the web archive.

For each store, each round: `storewatch crawl STORE --replay ...` of every shipped snapshot (archiving on, as
a crawl runs by default) into a new SQLite database, then `storewatch reextract STORE --into` a second one.
Prints both wall times, versions per second, and whether the rebuilt history is identical (issue 12's
target: identical, at no less than the original crawls' speed). Each command is a process of its own, as a
user runs it; rounds alternate. With ../shared beside the checkout, TF Hub 2024-03-19 (3,342 answers) is
measured too, as a history of one large run.

    python bench/reextract.py [--rounds 2] [--stores pytorch_hub,onnx_zoo,tfhub,huggingface]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_TFHUB = ROOT.parent / "shared" / "realdata" / "mirrors" / "tfhub" / "2024-03-19"


def storewatch(*args: str, cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, cwd=cwd, env=os.environ | {"STOREWATCH_ARCHIVE": "on"})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"storewatch {' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-400:]}")
    return elapsed, result.stdout


def one_round(store: str, snapshots: list[Path]) -> dict:
    with tempfile.TemporaryDirectory(prefix="storewatch-bench-reextract-") as folder:
        work = Path(folder)
        replays = [arg for snapshot in snapshots for arg in ("--replay", str(snapshot))]
        crawl_seconds, _ = storewatch("crawl", store, *replays, "--db", f"sqlite:///{work / 'original.db'}", cwd=work)
        reextract_seconds, out = storewatch(
            "reextract", store, "--into", f"sqlite:///{work / 'rebuilt.db'}", "--format", "json", "--db", f"sqlite:///{work / 'original.db'}", cwd=work
        )
        report = json.loads(out)
        return {"crawl": crawl_seconds, "reextract": reextract_seconds, "versions": report["versions"]["original"], "identical": report["identical"], "runs": report["runs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stores", default="pytorch_hub,onnx_zoo,tfhub,huggingface")
    args = parser.parse_args()
    cases = {store: sorted(p.parent for p in (ROOT / "snapshots" / store).glob("*/SNAPSHOT.json")) for store in args.stores.split(",")}
    if (SHARED_TFHUB / "SNAPSHOT.json").is_file():
        cases["tfhub (2024-03-19)"] = [SHARED_TFHUB]
    print(f"{'store':<20} {'runs':>4} {'versions':>8} {'crawl s':>8} {'reextract s':>12} {'ratio':>6}  identical")
    for name, snapshots in cases.items():
        store = name.split()[0]
        rounds = [one_round(store, snapshots) for _ in range(args.rounds)]
        crawl = statistics.median(r["crawl"] for r in rounds)
        reextract = statistics.median(r["reextract"] for r in rounds)
        first = rounds[0]
        print(
            f"{name:<20} {first['runs']:>4} {first['versions']:>8} {crawl:>8.2f} {reextract:>12.2f} {crawl / reextract:>6.2f}  "
            f"{all(r['identical'] for r in rounds)}"
        )
    print("ratio: the original crawl's wall time over the re-extraction's (>= 1: re-extraction is at least as fast)")


if __name__ == "__main__":
    main()
