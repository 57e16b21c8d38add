"""Scrapyd nodes benchmark: a browser-heavy crawl split over two runs, on one Scrapyd node and then on two.

The 500-page AWS Marketplace snapshot of bench/playwright_memory.py (every page rendered in Chromium) is split
into two snapshots of 250 pages (observed a day apart). Each run is a Scrapyd job sent by the scheduler's
dispatcher (nodes/dispatch.py) to real Scrapyd daemons on this machine, each node with one crawl slot:

- one node: both runs on it, one after the other;
- two nodes: the two runs at once, one on each node (the dispatcher sends each to the least-busy node).

The nodes write to PostgreSQL (STOREWATCH_TEST_POSTGRES_URL's server; a fresh database per node and phase:
two runs of one store never run at once, whatever the runner). Prints each phase's wall time (from the first
job sent to the last run recorded) and the two-node time as a share of the one-node time. Phases alternate
over `--rounds` (this machine's speed drifts).

    python bench/scrapyd_nodes.py [--pages 500] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from crawler.browser import find_chromium  # noqa: E402
from nodes.daemon import LocalScrapyd  # noqa: E402
from nodes.dispatch import CrawlRequest, ScrapydDispatcher, ScrapydSettings  # noqa: E402
from nodes.scrapyd import ScrapydNode  # noqa: E402
from playwright_memory import generate  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.models import CrawlRun  # noqa: E402

ADMIN_URL = os.environ.get("STOREWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
runs = CrawlRun.__table__


def halves(work: Path, pages: int) -> list[Path]:
    """The `pages`-page snapshot as two snapshots of half the pages each, the second observed a day later."""
    folders = []
    for index, day in enumerate(("2026-09-01", "2026-09-02")):
        folder = work / day
        ids = generate(folder, pages)
        half = ids[: len(ids) // 2] if index == 0 else ids[len(ids) // 2 :]
        sitemap = folder / "aws.amazon.com" / "marketplace" / "sitemap"
        locs = "".join(f"<url><loc>https://aws.amazon.com/marketplace/pp/{product_id}</loc></url>" for product_id in half)
        sitemap.write_text(f'<?xml version="1.0" encoding="UTF-8"?><urlset>{locs}</urlset>')
        meta = folder / "SNAPSHOT.json"
        meta.write_text(re.sub(r"2026-09-01T", f"{day}T", meta.read_text()))
        folders.append(folder)
    return folders


class Databases:
    """Fresh PostgreSQL databases, dropped at the end."""

    def __init__(self) -> None:
        self.admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def new(self) -> str:
        name = f"storewatch_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        open_database(url).dispose()  # the schema
        return url

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def phase(work: Path, databases: Databases, snapshots: list[Path], node_count: int) -> tuple[float, list[dict]]:
    """Start `node_count` nodes (one crawl slot each), send both runs, wait for both; (seconds, the runs)."""
    urls = [databases.new() for _ in range(node_count)]
    daemons = [
        LocalScrapyd(work / f"node{len(urls)}-{index}-{uuid.uuid4().hex[:6]}", {**os.environ, "PYTHONPATH": str(ROOT), "STOREWATCH_DATABASE_URL": url,
                     "STOREWATCH_ARCHIVE": "off"}, slots=1).start()
        for index, url in enumerate(urls)
    ]
    engines = [create_engine(url) for url in urls]
    try:
        settings = ScrapydSettings(nodes=tuple(ScrapydNode(daemon.url) for daemon in daemons), poll=0.5)
        dispatcher = ScrapydDispatcher(engines[0], settings, stop_timeout=30)
        outcomes = []
        started = time.perf_counter()
        if node_count == 1:
            for snapshot in snapshots:
                crawl = dispatcher.crawl(CrawlRequest("aws_marketplace", snapshot=snapshot, needs=frozenset({"browser"})))
                crawl.start()
                outcomes.append(crawl.wait(3600))
        else:
            crawls = [dispatcher.crawl(CrawlRequest("aws_marketplace", snapshot=snapshot, needs=frozenset({"browser"}))) for snapshot in snapshots]
            for crawl in crawls:
                crawl.start()
            threads = [threading.Thread(target=lambda crawl=crawl: outcomes.append(crawl.wait(3600))) for crawl in crawls]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed = time.perf_counter() - started
        recorded = []
        for engine in engines:
            with engine.connect() as connection:
                recorded += [dict(row) for row in connection.execute(select(runs.c.id, runs.c.status, runs.c.models_seen, runs.c.errors, runs.c.node)).mappings()]
        return elapsed, recorded
    finally:
        for daemon in daemons:
            daemon.kill()
        for engine in engines:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if find_chromium() is None:
        sys.exit("no Chromium found: apt-get install chromium (or set STOREWATCH_CHROMIUM)")
    databases = Databases()
    try:
        with tempfile.TemporaryDirectory(prefix="storewatch-nodes-bench-") as work:
            snapshots = halves(Path(work), args.pages)
            print(f"{args.pages} script-only product pages, as two runs of {args.pages // 2}", flush=True)
            times: dict[int, list[float]] = {1: [], 2: []}
            for round_ in range(args.rounds):
                for node_count in (1, 2):
                    elapsed, recorded = phase(Path(work), databases, snapshots, node_count)
                    times[node_count].append(elapsed)
                    described = ", ".join(f"{run['status']} {run['models_seen']} models {run['errors']} errors on {run['node']}" for run in recorded)
                    print(f"round {round_ + 1}, {node_count} node{'s' if node_count > 1 else ''}: {elapsed:.1f} s ({described})", flush=True)
    finally:
        databases.drop_all()
    one, two = min(times[1]), min(times[2])
    print(f"one node {one:.1f} s, two nodes {two:.1f} s: {100 * two / one:.0f}% of one node's wall time (best of {args.rounds})")


if __name__ == "__main__":
    main()
