"""Crawls on Scrapyd nodes: two real Scrapyd daemons, the scheduler's Scrapyd runner, a shared PostgreSQL database.

Every store's shipped snapshots are replayed for ten simulated days, once by the local runner and once by the
Scrapyd runner over two daemons, one of which is killed (SIGKILL, with its crawls) in the middle of a crawl.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from conftest import ROOT, SNAPSHOTS
from crawler.cli.service import status_report
from crawler.schedule_config import load_config
from crawler.stores import known_stores
from nodes.daemon import LocalScrapyd
from scheduler import Service
from storage.db import open_database
from storage.history_compare import compare_histories
from storage.lock import end_writer_session, store_writer
from storage.models import CrawlRun, ModelVersion
from storage.runs import RUN_COLUMNS
from storage.writer import SnapshotWriter

pytestmark = pytest.mark.postgres

runs = CrawlRun.__table__
versions = ModelVersion.__table__

START = datetime(2026, 8, 21, tzinfo=timezone.utc)  # every store has a snapshot by then (AWS Marketplace's first: 2025-09-01)
TEN_DAYS = timedelta(days=10)
VICTIM = "pytorch_hub"  # its crawls wait 3 s on their first answer: long enough to kill a node in the middle of one


def write_config(path, runner: str, nodes: list[str]) -> None:
    """Every store replaying its shipped snapshots every five days; VICTIM's GitHub answers slowed down."""
    parts = [f'[scheduler]\nrunner = "{runner}"\nstop_timeout = "10s"\n']
    if nodes:
        parts.append("[scrapyd]\nnodes = [" + ", ".join(f'"{url}"' for url in nodes) + ']\npoll = "0.2s"\nlost_after = "2s"\n')
    parts.append('[defaults]\nevery = "5d"\ntime_limit = "10m"\nretries = 2\nretry_backoff = "1h"\n')
    for store in known_stores():
        parts.append(f'[stores.{store}]\nreplay = "{SNAPSHOTS / store}"\n')
        if store == VICTIM:
            parts.append('replay_faults = ["*api.github.com/*=slow:3"]\n')
    path.write_text("".join(parts))


def simulate(config_path, database_url: str) -> None:
    config = load_config(config_path, known_stores=known_stores())
    Service(config, database_url, on_run=lambda run, note: None).run_simulated(START, until=START + TEN_DAYS - timedelta(seconds=1))


def recorded(engine) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(*(runs.c[name] for name in RUN_COLUMNS)).order_by(runs.c.id)).mappings()]


def outcome(run: dict) -> tuple:
    return (run["store"], run["observed_at"], run["status"], run["models_seen"], run["added"], run["changed"], run["removed"], run["returned"])


def kill_mid_crawl(engine, nodes: dict[str, LocalScrapyd], killed: list[str], status: list, stop: threading.Event) -> None:
    """Kill the node running the first crawl of VICTIM once that crawl has begun its run (and `status` shows it)."""
    while not stop.is_set():
        with engine.connect() as connection:
            node = connection.execute(select(runs.c.node).where(runs.c.store == VICTIM, runs.c.status == "running")).scalar()
        if node is not None:
            config = load_config(nodes[node].env["STOREWATCH_CONFIG"], known_stores=known_stores())
            status.append(status_report(config, engine, {}, config.fail_after))  # what `storewatch status --format json` prints
            nodes[node].kill()
            killed.append(node)
            return
        time.sleep(0.05)


def test_ten_days_on_two_scrapyd_nodes_one_killed_mid_crawl_keep_the_local_runners_history(tmp_path, postgres_url, monkeypatch):
    monkeypatch.setenv("STOREWATCH_ARCHIVE", "off")  # the WARC files are not what is compared here
    local_db = f"sqlite:///{tmp_path / 'local.db'}"
    write_config(tmp_path / "local.toml", "local", [])
    simulate(tmp_path / "local.toml", local_db)

    open_database(postgres_url).dispose()  # the schema, before the nodes' crawls look for it
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "STOREWATCH_DATABASE_URL": postgres_url,  # the nodes' own environment: never a job argument
        "STOREWATCH_CONFIG": str(tmp_path / "scrapyd.toml"),
    }
    first, second = LocalScrapyd(tmp_path / "node1", env).start(), LocalScrapyd(tmp_path / "node2", env).start()
    nodes = {first.url: first, second.url: second}
    write_config(tmp_path / "scrapyd.toml", "scrapyd", list(nodes))
    engine = create_engine(postgres_url)
    killed: list[str] = []
    status: list[dict] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_mid_crawl, args=(engine, nodes, killed, status, stop))
    killer.start()
    try:
        simulate(tmp_path / "scrapyd.toml", postgres_url)
    finally:
        stop.set()
        killer.join()
        first.kill()
        second.kill()

    local_engine = open_database(local_db)
    local_runs, node_runs = recorded(local_engine), recorded(engine)
    assert len(local_runs) == 2 * len(known_stores())  # days 0 and 5 of every store

    # The killed node's crawl: closed `failed` against that node, then retried and complete on the other node.
    assert len(killed) == 1
    (victim,) = [entry for entry in status[0]["stores"] if entry["store"] == VICTIM]
    assert victim["crawling"] and victim["crawling_on"].startswith(f"{killed[0]} (job ")  # `status` showed where it ran
    (failed,) = [run for run in node_runs if run["status"] == "failed"]
    assert failed["store"] == VICTIM and failed["node"] == killed[0]
    assert f"Scrapyd node {killed[0]} lost" in failed["error_summary"]
    retry = next(run for run in node_runs if run["id"] > failed["id"] and run["store"] == VICTIM)
    assert retry["observed_at"] == failed["observed_at"] and retry["status"] == "complete"
    assert retry["node"] not in (None, killed[0])

    # Every other run recorded once, with the local runner's outcome; every one ran on a node, as its job.
    assert sorted(map(outcome, (run for run in node_runs if run is not failed))) == sorted(map(outcome, local_runs))
    assert all(run["node"] in nodes and run["job"] for run in node_runs)
    assert {run["node"] for run in node_runs if run["id"] < failed["id"]} <= set(nodes)
    # The same history, version by version; no model with two open versions; nothing removed by the failure.
    for store in known_stores():
        assert compare_histories(local_engine, engine, store).identical, store
    with engine.connect() as connection:
        open_twice = connection.execute(
            select(func.count()).select_from(
                select(versions.c.model_pk).where(versions.c.valid_to.is_(None)).group_by(versions.c.model_pk).having(func.count() > 1).subquery()
            )
        ).scalar()
    assert open_twice == 0
    assert failed["removed"] == 0 and failed["models_seen"] == 0
    local_engine.dispose()
    engine.dispose()


def test_a_given_up_crawls_database_session_is_ended_so_it_can_record_nothing(postgres_url):
    """What keeps a node that comes back from finishing a crawl the scheduler closed `failed` and retried."""
    engine = open_database(postgres_url)
    writer = SnapshotWriter(engine, "onnx_zoo", datetime(2024, 1, 1, tzinfo=timezone.utc), "onnx_zoo/1", node="http://node1:6800", job="j1")
    run_id = writer.start()
    writer.add("squeezenet", {"name": "SqueezeNet"}, {})
    assert not end_writer_session(engine, "onnx_zoo", run_id + 1)  # the lock is not held for that run: left alone
    assert store_writer(engine, "onnx_zoo") is not None
    assert end_writer_session(engine, "onnx_zoo", run_id)
    deadline = time.monotonic() + 10
    while store_writer(engine, "onnx_zoo") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store_writer(engine, "onnx_zoo") is None  # free for the retry on another node
    with pytest.raises(OperationalError, match="terminating connection"):  # its session is gone: nothing commits
        writer.finish("complete")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(versions)).scalar() == 0
        assert connection.execute(select(runs.c.node, runs.c.job).where(runs.c.id == run_id)).one() == ("http://node1:6800", "j1")
    engine.dispose()


def test_a_job_past_its_time_limit_is_cancelled_and_recorded_partial(tmp_path, postgres_url):
    open_database(postgres_url).dispose()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "STOREWATCH_DATABASE_URL": postgres_url, "STOREWATCH_ARCHIVE": "off"}
    config = tmp_path / "storewatch.toml"
    with LocalScrapyd(tmp_path / "node", env) as node:
        config.write_text(
            f'[scheduler]\nrunner = "scrapyd"\nstop_timeout = "5s"\n[scrapyd]\nnodes = ["{node.url}"]\npoll = "0.2s"\n'
            f'[stores.pytorch_hub]\nreplay = "{SNAPSHOTS / "pytorch_hub"}"\nreplay_faults = ["*api.github.com/*=slow:60"]\ntime_limit = "5s"\n'
        )
        Service(load_config(config, known_stores=known_stores()), postgres_url, on_run=lambda run, note: None).run_simulated(START, until=START)
    engine = open_database(postgres_url)
    [run] = recorded(engine)
    engine.dispose()
    assert run["status"] == "partial" and run["node"] == node.url and run["removed"] == 0
    assert run["error_summary"].startswith("stopped: time limit of 5s exceeded")
