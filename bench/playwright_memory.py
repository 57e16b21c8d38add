"""Playwright memory benchmark: crawl 500 pages that only render in a browser, from a replay, and watch memory.

Generates an AWS Marketplace snapshot in a temporary directory -- a sitemap and N product pages whose fields
exist only after JavaScript runs, like the fixture's prodview-j7x3wq9lb5tmc -- then runs the real
`aws_marketplace` crawl over it (replay server, scrapy-playwright, Debian's Chromium, the snapshot writer).
A sampler reads the memory of the whole process tree (this Python process plus every Chromium process) ten
times a second. Prints the peak at 100 and at N rendered pages: flat memory means the second is no higher
than the first plus noise, however long the crawl.

RSS is summed over the processes (shared pages counted once per process, so it overstates); PSS shares
them out, so it is the better total.

    python bench/playwright_memory.py [--pages 500] [--contexts 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scrapy import signals  # noqa: E402

from crawler.browser import find_chromium  # noqa: E402
from crawler.replay import Snapshot  # noqa: E402
from crawler.runner import run_crawls  # noqa: E402
from storage import queries  # noqa: E402
from storage.db import open_database  # noqa: E402

TEMPLATE = ROOT / "snapshots" / "aws_marketplace" / "2025-09-01" / "aws.amazon.com" / "marketplace" / "pp" / "prodview-j7x3wq9lb5tmc"
MARKS = (100,)
SAMPLE_SECONDS = float(os.environ.get("BENCH_SAMPLE_SECONDS", "0.1"))


def generate(directory: Path, pages: int) -> list[str]:
    """An aws_marketplace snapshot of `pages` script-only product pages (varied names, prices, versions)."""
    template = TEMPLATE.read_text()
    encoded = template.split('atob("', 1)[1].split('"', 1)[0]
    record = json.loads(base64.b64decode(encoded))
    rng = random.Random(500)
    site = directory / "aws.amazon.com"
    (site / "marketplace" / "pp").mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /marketplace/search*\n")
    ids = sorted({"prodview-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(13)) for _ in range(pages)})
    for number, product_id in enumerate(ids):
        page = {
            **record,
            "listingId": product_id,
            "name": f"Benchmark Model {number}",
            "version": f"1.{number % 7}.0",
            "cards": [{**card, "price": f"{rng.uniform(0.1, 9):.8f}"} for card in record["cards"]],
            "long": record["long"] + " " + "x" * rng.randint(0, 4000),
        }
        blob = base64.b64encode(json.dumps(page).encode()).decode()
        (site / "marketplace" / "pp" / product_id).write_text(template.replace(encoded, blob))
    locs = "".join(f"<url><loc>https://aws.amazon.com/marketplace/pp/{product_id}</loc></url>" for product_id in ids)
    (site / "marketplace" / "sitemap").write_text(f'<?xml version="1.0" encoding="UTF-8"?><urlset>{locs}</urlset>')
    meta = {"store": "aws_marketplace", "observed_at": "2026-09-01T00:00:00Z", "source": {"repository": "bench/playwright_memory.py"}}
    (directory / "SNAPSHOT.json").write_text(json.dumps(meta))
    return ids


def tree_memory(root_pid: int) -> tuple[int, int, int]:
    """(RSS of root_pid, RSS summed over it and its descendants, PSS summed likewise), in bytes."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    pids, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    own = rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    value = int(line.split()[1]) * 1024
                    rss += value
                    own = value if pid == root_pid else own
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return own, rss, pss


class Sampler:
    """Samples the process tree's memory in a thread; remembers the peaks so far."""

    def __init__(self) -> None:
        self.peak = (0, 0, 0)
        self.rendered = 0
        self.marks: dict[int, tuple[int, int, int, float]] = {}
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(SAMPLE_SECONDS)

    def sample(self) -> None:
        now = tree_memory(os.getpid())
        self.peak = tuple(max(a, b) for a, b in zip(self.peak, now))

    def page_rendered(self) -> None:
        self.rendered += 1
        if self.rendered in MARKS or self.rendered == TOTAL[0]:
            self.sample()
            self.marks[self.rendered] = (*self.peak, time.perf_counter() - self._started)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


SAMPLER = Sampler()
TOTAL = [500]


class RenderProbe:
    """Scrapy extension: tells the sampler each time a page comes back from the browser."""

    @classmethod
    def from_crawler(cls, crawler):
        probe = cls()
        crawler.signals.connect(probe.response_received, signal=signals.response_received)
        return probe

    def response_received(self, response, request, spider):
        if request.meta.get("playwright"):
            SAMPLER.page_rendered()


def mb(value: int) -> str:
    return f"{value / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--contexts", type=int, default=2, help="pages rendered at once (STOREWATCH_RENDER_CONTEXTS)")
    args = parser.parse_args()
    TOTAL[0] = args.pages
    chromium = find_chromium()
    if chromium is None:
        sys.exit("no Chromium found: apt-get install chromium (or set STOREWATCH_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="storewatch-pw-bench-") as work:
        snapshot_dir = Path(work) / "2026-09-01"
        ids = generate(snapshot_dir, args.pages)
        print(f"{len(ids)} script-only product pages generated; Chromium: {chromium}", flush=True)
        SAMPLER.start()
        started = time.perf_counter()
        summaries = run_crawls(
            [("aws_marketplace", Snapshot.load(snapshot_dir))],
            database_url=f"sqlite:///{Path(work) / 'bench.db'}",
            extra_settings={
                "STOREWATCH_RENDER_CONTEXTS": args.contexts,
                "EXTENSIONS": {"crawler.progress.ProgressLine": 500, "__main__.RenderProbe": 600},
            },
        )
        elapsed = time.perf_counter() - started
        SAMPLER.stop()
        stats = queries.list_runs(open_database(f"sqlite:///{Path(work) / 'bench.db'}"), "aws_marketplace")[0]["stats"]
    summary = summaries[0]
    print(f"run: {summary['status']}, {summary['models_seen']} models, {summary['errors']} errors, {elapsed:.1f} s "
          f"({SAMPLER.rendered / elapsed:.1f} rendered pages/s)")
    print("playwright stats: " + ", ".join(f"{key.removeprefix('playwright/')}={value}" for key, value in stats.items() if key.startswith("playwright/")))
    print(f"{'pages rendered':>15} {'python RSS':>12} {'tree RSS':>12} {'tree PSS':>12} {'at (s)':>8}")
    for count, (own, rss, pss, at) in sorted(SAMPLER.marks.items()):
        print(f"{count:>15} {mb(own):>12} {mb(rss):>12} {mb(pss):>12} {at:>8.1f}")
    if len(SAMPLER.marks) == 2:
        (_, first), (_, last) = sorted(SAMPLER.marks.items())
        print(f"peak tree PSS grew {100 * (last[2] - first[2]) / first[2]:+.1f}% from {min(SAMPLER.marks)} to {max(SAMPLER.marks)} pages")


if __name__ == "__main__":
    main()
