"""One writer per store: two crawls of a store never write at once, and history cannot contradict itself."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from storage.db import open_database
from storage.errors import StorewatchError
from storage.lock import LockBusy, acquire_store_lock, store_writer
from storage.models import CrawlRun, ModelVersion
from storage.writer import SnapshotWriter

TFHUB_OLD, TFHUB_NEW = snapshot_dir("tfhub", "2020-12-31"), snapshot_dir("tfhub", "2021-06-30")
runs_table, versions_table = CrawlRun.__table__, ModelVersion.__table__


def day(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=timezone.utc)


def start_crawl(db: str, directory) -> subprocess.Popen:
    """`storewatch crawl tfhub --replay DIRECTORY` in the background, as a second terminal would run it; each
    model document answers 0.2 s late, so the crawl is still going while the test tries the next one."""
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "tfhub", "--replay", str(directory), "--db", db, "--fail", "*/assets/docs/*=slow:0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_for_running_run(engine, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            row = connection.execute(select(runs_table).where(runs_table.c.status == "running")).mappings().first()
        if row is not None:
            return dict(row)
        time.sleep(0.02)
    raise AssertionError("no crawl started recording its run")


def history_faults(engine) -> tuple[int, int]:
    """(models with more than one open version, versions that end before they begin)."""
    with engine.connect() as connection:
        doubled = connection.execute(
            select(func.count()).select_from(
                select(versions_table.c.model_pk).where(versions_table.c.valid_to.is_(None)).group_by(versions_table.c.model_pk)
                .having(func.count() > 1).subquery()
            )
        ).scalar_one()
        inverted = connection.execute(
            select(func.count()).where(versions_table.c.valid_to < versions_table.c.valid_from)
        ).scalar_one()
    return doubled, inverted


def test_a_second_crawl_of_a_store_being_crawled_refuses_at_once_naming_the_holder(db_url, engine):
    first = start_crawl(db_url, TFHUB_NEW)
    try:
        running = wait_for_running_run(engine)
        started = time.monotonic()
        second = run_cli("crawl", "tfhub", "--replay", str(TFHUB_NEW), db=db_url, check=False)
        assert time.monotonic() - started < 20  # refused, not queued behind the first crawl
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: tfhub is being written by another storewatch process")
        assert f"pid {running['pid']} on {running['host']}, run {running['id']}" in lines[0]
        assert "Traceback" not in second.stderr
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    runs = cli_json("runs", "--store", "tfhub", db=db_url)
    assert [run["status"] for run in runs] == ["complete"]
    assert history_faults(engine) == (0, 0)


def test_an_older_snapshot_started_while_a_newer_one_is_crawled_cannot_rewrite_history(db_url, engine):
    newer = start_crawl(db_url, TFHUB_NEW)
    try:
        wait_for_running_run(engine)
        older = run_cli("crawl", "tfhub", "--replay", str(TFHUB_OLD), db=db_url, check=False)
    finally:
        newer.communicate(timeout=300)
    assert older.returncode == 2 and "is being written by" in older.stderr
    # and once the newer run is recorded, the older snapshot is refused for its date
    again = run_cli("crawl", "tfhub", "--replay", str(TFHUB_OLD), db=db_url, check=False)
    assert again.returncode == 2 and "older than the latest run" in again.stderr
    assert [run["observed_at"][:10] for run in cli_json("runs", "--store", "tfhub", db=db_url)] == ["2021-06-30"]
    assert history_faults(engine) == (0, 0)


def test_the_time_order_rule_is_checked_again_in_the_final_transaction(engine):
    """A newer run that appeared while a crawl ran (a writer that ignored the lock): the crawl records nothing."""
    old = SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1")
    old.start()
    old.add("a", {"name": "A"}, {})
    with engine.begin() as connection:  # as if another process had recorded a newer run meanwhile
        connection.execute(
            insert(runs_table).values(
                store="teststore", observed_at=day("2020-02-01"), started_at=day("2020-02-01"), status="complete",
                models_seen=0, added=0, changed=0, removed=0, returned=0, errors=0, absent=0, spider_version="x",
            )
        )
    summary = old.finish("complete")
    assert summary.status == "failed" and summary.added == 0
    assert "refused: a run observed at 2020-02-01T00:00:00Z was recorded while this crawl ran" in summary.error_summary
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(versions_table)).scalar_one() == 0


def test_the_database_allows_one_open_version_per_model_and_no_inverted_interval(engine):
    writer = SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1")
    writer.start()
    writer.add("a", {"name": "A"}, {})
    writer.finish("complete")
    with engine.connect() as connection:
        version = dict(connection.execute(select(versions_table)).mappings().one())
    duplicate = {key: value for key, value in version.items() if key != "id"}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(versions_table).values(**duplicate))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(update(versions_table).values(valid_to=day("2019-12-01")))


def test_a_writer_in_this_process_and_the_lock_probe_agree(engine):
    lock = acquire_store_lock(engine, "teststore")
    try:
        assert store_writer(engine, "teststore").startswith(f"pid {os.getpid()} on ")
        with pytest.raises(LockBusy, match="teststore is being written by another storewatch process"):
            SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1").start()
        assert store_writer(engine, "otherstore") is None  # one lock per store: others are free
    finally:
        lock.release()
    assert store_writer(engine, "teststore") is None


def test_the_sqlite_lock_is_on_the_database_file_itself(tmp_path):
    """A hard link to the database is the same database; the lock dies with the process that held it."""
    db = tmp_path / "storewatch.db"
    engine = open_database(f"sqlite:///{db}")
    os.link(db, tmp_path / "linked.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from storage.db import open_database; from storage.lock import acquire_store_lock; "
         "acquire_store_lock(open_database(sys.argv[1]), 'tfhub'); print('held', flush=True); time.sleep(60)", f"sqlite:///{tmp_path / 'linked.db'}"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        # (the holder's name is not asserted: SQLite keeps a separate WAL per file name, so a hard-linked
        # database does not see the other name's recent writes -- which is why only the lock may rely on the inode)
        with pytest.raises(LockBusy, match="tfhub is being written by another storewatch process"):
            acquire_store_lock(engine, "tfhub")
        for leftover in tmp_path.glob("*.lock"):
            leftover.unlink()  # no side file to delete that would let a second writer in
        assert store_writer(engine, "tfhub") is not None
    finally:
        holder.kill()
        holder.wait()
    acquire_store_lock(engine, "tfhub").release()  # the kernel dropped the dead holder's lock


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_writer_whose_postgres_session_is_terminated_records_nothing(db_url, engine):
    writer = SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1")
    writer.start()
    writer.add("a", {"name": "A"}, {})
    backend = writer.lock.connection.execute(text("SELECT pg_backend_pid()")).scalar()
    writer.lock.connection.commit()
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": backend})  # waits for it to end
    assert store_writer(engine, "teststore") is None  # the lock went with the session: another may start
    with pytest.raises(Exception):
        writer.finish("complete")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(versions_table)).scalar_one() == 0


def test_a_killed_manual_crawl_is_closed_by_the_next_crawl_of_its_store(db_url, engine):
    crawl = start_crawl(db_url, TFHUB_OLD)
    running = wait_for_running_run(engine)
    os.killpg(crawl.pid, signal.SIGKILL)
    crawl.wait()
    assert [run["status"] for run in cli_json("runs", db=db_url)] == ["running"]
    result = run_cli("crawl", "tfhub", "--replay", str(TFHUB_OLD), db=db_url)
    assert "complete" in result.stdout
    runs = cli_json("runs", "--store", "tfhub", db=db_url)
    assert [run["status"] for run in runs] == ["failed", "complete"]
    assert re.match(rf"abandoned: its crawl process \(pid {running['pid']}\) died before finishing", runs[0]["error_summary"])
    assert history_faults(engine) == (0, 0)


def test_a_snapshot_from_the_future_is_refused_and_blocks_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    copy = tmp_path / "future"
    copy.mkdir()
    for entry in snapshot_dir("onnx_zoo", "2023-12-26").iterdir():
        if entry.name != "SNAPSHOT.json":
            (copy / entry.name).symlink_to(entry)
    (copy / "SNAPSHOT.json").write_text('{"store": "onnx_zoo", "observed_at": "2999-01-01T00:00:00Z"}')
    refused = run_cli("crawl", "onnx_zoo", "--replay", str(copy), db=db, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: onnx_zoo: observed at 2999-01-01T00:00:00Z, more than a day in the future; check the snapshot's SNAPSHOT.json and this machine's clock"
    assert cli_json("runs", db=db) == []
    run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dir("onnx_zoo", "2023-12-26")), db=db)


def test_model_ids_of_any_length_are_recorded_on_both_databases(engine):
    long_id = "org/" + "x" * 5000
    writer = SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1")
    writer.start()
    writer.add(long_id, {"name": "long"}, {})
    assert writer.finish("complete").added == 1
    from storage.queries import model_history, models_as_of

    assert [row["model_id"] for row in models_as_of(engine, "teststore")] == [long_id]
    assert model_history(engine, "teststore", long_id)[0]["change"] == "added"


def test_an_unstarted_writer_cannot_be_finished(engine):
    with pytest.raises(StorewatchError, match="never started"):
        SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1").finish("complete")
