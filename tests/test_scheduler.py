"""The scheduler service end to end: `storewatch schedule` processes crawling replay servers on seconds-scale schedules.

Each test starts the real service as a user would (its own process, a storewatch.toml, a database), then
watches the database. Crawls take a second or more, so every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import case, func, select, text

from conftest import ROOT, SNAPSHOTS, run_cli, snapshot_dir
from storage.db import alembic_config, open_database
from storage.lock import acquire_store_lock
from storage.models import CrawlRun, Model, ModelVersion
from storage.queries import list_runs, models_as_of
from test_crawl_replay import pytorch_models_in

TFHUB = snapshot_dir("tfhub", "2020-12-31")  # 1,198 models: a crawl long enough to be caught midway
TFHUB_MODELS = 1198


def write_config(path: Path, stores: dict[str, dict], service: dict | None = None) -> Path:
    lines = ["[scheduler]"] + [f"{key} = {json.dumps(value)}" for key, value in (service or {}).items()]
    for store, settings in stores.items():
        lines += ["", f"[stores.{store}]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Scheduler:
    """`storewatch schedule` in its own process, its log in a file."""

    def __init__(self, config: Path, db: str, log: Path) -> None:
        self.log_path = log
        self._log = open(log, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "schedule", "--config", str(config), "--db", db],
            stdout=self._log,
            stderr=self._log,
            cwd=ROOT,
        )
        try:
            wait_until(lambda: "scheduler started" in self.log() or self.process.poll() is not None, 30, "the scheduler to start")
            assert self.process.poll() is None, self.log()
        except BaseException:
            self.kill()
            raise

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@pytest.fixture
def start(tmp_path):
    """Start `storewatch schedule` processes; any still running when the test ends (say it failed) is killed."""
    started: list[Scheduler] = []

    def start_scheduler(config: Path, db: str, name: str) -> Scheduler:
        started.append(Scheduler(config, db, tmp_path / f"{name}.log"))
        return started[-1]

    yield start_scheduler
    for scheduler in started:
        scheduler.kill()


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def runs(engine, store: str | None = None) -> list[dict]:
    return list_runs(engine, store)


def statuses(engine) -> list[str]:
    return [run["status"] for run in runs(engine)]


def version_counts(engine) -> tuple[int, int, int]:
    """(version rows, models with a version, open versions)."""
    versions = ModelVersion.__table__
    with engine.connect() as connection:
        return connection.execute(
            select(
                func.count(),
                func.count(versions.c.model_pk.distinct()),
                func.sum(case((versions.c.valid_to.is_(None), 1), else_=0)),
            )
        ).one()


def pid_of_running_run(engine) -> int | None:
    table = CrawlRun.__table__
    with engine.connect() as connection:
        return connection.execute(select(table.c.pid).where(table.c.status == "running")).scalar()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_sigkill_during_a_crawl_then_restart_recovers_and_crawls_on(start, db_url, engine, tmp_path):
    config = write_config(tmp_path / "storewatch.toml", {"tfhub": {"every": "1s", "replay": str(TFHUB)}})
    first = start(config, db_url, "first")
    wait_until(lambda: statuses(engine)[:1] == ["complete"] and pid_of_running_run(engine), 90, "a second crawl to be under way")
    crawl_pid = pid_of_running_run(engine)
    first.kill()  # SIGKILL: no chance to clean up

    wait_until(lambda: not alive(crawl_pid), 10, "the orphaned crawl to die with its scheduler")
    assert statuses(engine) == ["complete", "running"]  # left dangling: start-up recovery's job

    second = start(config, db_url, "second")
    wait_until(lambda: statuses(engine)[2:3] == ["complete"], 90, "the next run after the restart")
    assert second.stop() == 0, second.log()

    history = runs(engine)
    assert "running" not in statuses(engine)
    abandoned = history[1]
    assert abandoned["status"] == "failed"
    assert f"abandoned: its crawl process (pid {crawl_pid}) died before finishing" in abandoned["error_summary"]
    assert "marked failed" in second.log() and "tfhub: after the abandoned run" in second.log()
    for run in history[2:]:
        assert run["status"] == "complete" and (run["added"], run["changed"], run["removed"]) == (0, 0, 0)
    assert version_counts(engine) == (TFHUB_MODELS, TFHUB_MODELS, TFHUB_MODELS)  # one version per model, all open


def test_listing_http_500_fails_removes_nothing_retries_and_history_continues(start, tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    engine = open_database(db)
    folder = tmp_path / "pytorch_hub"
    folder.mkdir()
    for date in ("2019-06-30", "2019-09-30"):
        (folder / date).symlink_to(snapshot_dir("pytorch_hub", date))
    store = {"every": "1h", "replay": str(folder), "retries": 1, "retry_backoff": "1s"}
    config = tmp_path / "storewatch.toml"

    write_config(config, {"pytorch_hub": store})
    scheduler = start(config, db, "1")  # a store never crawled is crawled at once
    wait_until(lambda: statuses(engine) == ["complete"], 60, "the first run")
    assert scheduler.stop() == 0
    first_models = {m["model_id"] for m in models_as_of(engine, "pytorch_hub")}
    assert first_models == pytorch_models_in(folder / "2019-06-30").keys()

    # The store's API answers 500: the scheduled run fails, its retry too; then it waits for the next schedule.
    write_config(config, {"pytorch_hub": {**store, "every": "4s", "replay_faults": ["/api.github.com/*=500"]}})
    scheduler = start(config, db, "2")
    wait_until(lambda: statuses(engine)[1:3] == ["failed", "failed"], 60, "a failed run and its failed retry")
    assert scheduler.stop() == 0
    assert "retry 1/1 in 1s" in scheduler.log()
    for run in runs(engine)[1:]:
        assert run["status"] == "failed" and run["removed"] == 0 and "HTTP 500" in run["error_summary"]
    assert {m["model_id"] for m in models_as_of(engine, "pytorch_hub")} == first_models  # nothing removed

    unhealthy = run_cli("status", "--config", str(config), "--fail-after", "2", "--format", "json", db=db, check=False)
    assert unhealthy.returncode == 1, unhealthy.stderr
    report = json.loads(unhealthy.stdout)
    assert [(s["store"], s["healthy"], s["last_status"]) for s in report["stores"]] == [("pytorch_hub", False, "failed")]
    assert "unhealthy: pytorch_hub" in unhealthy.stderr

    # The store recovers: the next good run continues the history with the snapshot the failures missed.
    write_config(config, {"pytorch_hub": {**store, "every": "1s"}})
    scheduler = start(config, db, "3")
    wait_until(lambda: "complete" in statuses(engine)[3:], 60, "a good run")
    assert scheduler.stop() == 0
    recovered = next(run for run in runs(engine)[3:] if run["status"] == "complete")
    assert recovered["observed_at"] == "2019-09-30T00:00:00Z"
    assert {m["model_id"] for m in models_as_of(engine, "pytorch_hub")} == pytorch_models_in(folder / "2019-09-30").keys()
    assert run_cli("status", "--config", str(config), "--fail-after", "2", db=db).returncode == 0


def test_a_second_scheduler_on_the_same_database_refuses_and_the_lock_dies_with_its_holder(start, db_url, engine, tmp_path):
    config = write_config(tmp_path / "storewatch.toml", {"pytorch_hub": {"every": "1s", "replay": str(snapshot_dir("pytorch_hub", "2019-06-30"))}})
    first = start(config, db_url, "first")
    second = run_cli("schedule", "--config", str(config), db=db_url, check=False)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: another storewatch scheduler is running on this database"), second.stderr
    assert f"pid {first.process.pid} on" in lines[0]

    status = json.loads(run_cli("status", "--config", str(config), "--format", "json", db=db_url).stdout)
    assert status["scheduler"]["running"] and f"pid {first.process.pid}" in status["scheduler"]["holder"]
    wait_until(lambda: statuses(engine).count("complete") >= 2, 60, "two runs")
    first.kill()
    history = runs(engine)
    for earlier, later in zip(history, history[1:]):  # one crawl at a time
        assert earlier["finished_at"] is not None and instant(earlier["finished_at"]) <= instant(later["started_at"])

    after_kill = start(config, db_url, "third")  # the killed holder's lock is gone
    assert after_kill.stop() == 0


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_scheduler_that_loses_its_postgres_lock_stops_dispatching_and_exits(start, db_url, engine, tmp_path):
    config = write_config(
        tmp_path / "storewatch.toml", {"onnx_zoo": {"every": "2s", "replay": str(snapshot_dir("onnx_zoo", "2023-12-26"))}}, {"lock_check": "1s"}
    )
    first = start(config, db_url, "first")
    wait_until(lambda: statuses(engine).count("complete") >= 1, 60, "a first run")
    with engine.connect() as connection:  # a database administrator ends the scheduler's lock session
        ended = connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'storewatch scheduler' AND datname = current_database()")
        ).scalars().all()
    assert ended == [True]
    assert first.process.wait(60) == 3, first.log()
    log = first.log()
    assert "the scheduler lost its lock on the database" in log and "dispatching nothing more" in log
    runs_then = len(runs(engine))
    assert "running" not in statuses(engine)

    status = json.loads(run_cli("status", "--config", str(config), "--format", "json", db=db_url, check=False).stdout)
    assert status["scheduler"] == {"running": False, "holder": None}
    second = start(config, db_url, "second")  # a supervisor's restart takes the lock
    status = json.loads(run_cli("status", "--config", str(config), "--format", "json", db=db_url, check=False).stdout)
    assert f"pid {second.process.pid} on" in status["scheduler"]["holder"]
    wait_until(lambda: len(runs(engine)) > runs_then, 60, "the new scheduler's run")
    assert second.stop() == 0
    assert version_counts(engine)[2] == 184  # one open version per model: no crawl ran twice at once


def test_a_store_another_process_is_writing_is_skipped_as_busy(start, tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    engine = open_database(db)
    config = write_config(tmp_path / "storewatch.toml", {"onnx_zoo": {"every": "1s", "replay": str(snapshot_dir("onnx_zoo", "2023-12-26"))}})
    lock = acquire_store_lock(engine, "onnx_zoo")  # as a manual `storewatch crawl onnx_zoo` would hold it
    try:
        scheduler = start(config, db, "busy")
        wait_until(lambda: "onnx_zoo: skipped: busy -- another process is writing it (pid" in scheduler.log(), 30, "a skipped run")
        assert runs(engine) == []  # skipped, not recorded as a failure
    finally:
        lock.release()
    wait_until(lambda: statuses(engine)[:1] == ["complete"], 60, "a run once the store is free")
    assert scheduler.stop() == 0


def test_sigterm_lets_a_running_crawl_finish_within_the_grace_period_else_stops_it(start, tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    engine = open_database(db)
    store = {"tfhub": {"every": "1h", "replay": str(TFHUB)}}

    config = write_config(tmp_path / "patient.toml", store, {"grace_period": "2m"})
    scheduler = start(config, db, "patient")
    wait_until(lambda: pid_of_running_run(engine), 60, "a crawl to be under way")
    assert scheduler.stop(signal.SIGTERM) == 0
    assert statuses(engine) == ["complete"]

    config = write_config(tmp_path / "hasty.toml", {"tfhub": {"every": "1s", "replay": str(TFHUB)}}, {"grace_period": "0s"})
    scheduler = start(config, db, "hasty")
    wait_until(lambda: pid_of_running_run(engine), 60, "a crawl to be under way")
    assert scheduler.stop(signal.SIGINT) == 0
    stopped = runs(engine)[-1]
    assert stopped["status"] == "partial" and stopped["removed"] == 0
    assert stopped["error_summary"].startswith("stopped: the scheduler is shutting down")
    assert version_counts(engine)[2] == TFHUB_MODELS  # the partial run closed nothing


def test_a_crawl_past_its_time_limit_is_stopped_and_recorded_partial(start, tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    engine = open_database(db)
    config = write_config(tmp_path / "storewatch.toml", {"tfhub": {"every": "1h", "time_limit": "1s", "replay": str(TFHUB)}})
    scheduler = start(config, db, "s")
    wait_until(lambda: [r for r in runs(engine) if r["status"] != "running"], 60, "the run to end")
    assert scheduler.stop() == 0  # after the scheduler has settled the run
    [run] = runs(engine)
    assert run["status"] == "partial" and run["removed"] == 0
    assert "stopped: time limit of 1s exceeded" in run["error_summary"]


def test_runs_missed_while_the_scheduler_was_down_coalesce_into_one(start, tmp_path):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    db = f"sqlite:///{tmp_path / 'sw.db'}"
    engine = open_database(db)
    config = write_config(tmp_path / "storewatch.toml", {"onnx_zoo": {"every": "1h", "replay": str(snapshot_dir("onnx_zoo", "2021-08-20"))}})
    scheduler = start(config, db, "1")
    wait_until(lambda: statuses(engine) == ["complete"], 60, "the first run")
    assert scheduler.stop() == 0

    # Downtime: as if the service had been off for 3.5 hours, missing three hourly runs.
    jobs = SQLAlchemyJobStore(engine=engine)
    jobs.start(None, "default")
    job = jobs.lookup_job("crawl:onnx_zoo")
    job.next_run_time -= timedelta(hours=3.5)
    jobs.update_job(job)

    scheduler = start(config, db, "2")
    wait_until(lambda: statuses(engine) == ["complete", "complete"], 60, "the catch-up run")
    time.sleep(3)  # three more runs would follow now if missed runs did not coalesce
    assert scheduler.stop() == 0
    assert statuses(engine) == ["complete", "complete"]
    status = json.loads(run_cli("status", "--config", str(config), "--format", "json", db=db).stdout)
    next_run = datetime.fromisoformat(status["stores"][0]["next_run"].replace("Z", "+00:00"))
    assert datetime.now(timezone.utc) < next_run <= datetime.now(timezone.utc) + timedelta(hours=1)  # back on the hourly grid

    # APScheduler's job table lives beside storewatch's tables without disturbing the migrations.
    command.check(alembic_config(db))


def test_demo_drives_the_scheduler_over_snapshots_each_on_its_date(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    root = tmp_path / "snapshots"
    for store, dates in {"pytorch_hub": ("2021-06-30", "2021-12-31"), "onnx_zoo": ("2021-08-20", "2021-11-12")}.items():
        (root / store).mkdir(parents=True)
        for date in dates:
            (root / store / date).symlink_to(snapshot_dir(store, date))
    output = run_cli("demo", "--snapshots", str(root), db=db).stdout.splitlines()
    assert "through the scheduler" in output[0] and "from 2021-06-30 to 2021-12-31" in output[0]
    assert [line.split()[:3] for line in output[1:5]] == [  # time order across stores: each on its date
        ["pytorch_hub", "2021-06-30", "complete"],
        ["onnx_zoo", "2021-08-20", "complete"],
        ["onnx_zoo", "2021-11-12", "complete"],
        ["pytorch_hub", "2021-12-31", "complete"],
    ]
    again = run_cli("demo", "--snapshots", str(root), db=db).stdout
    assert "already recorded" in again
    engine = open_database(db)
    assert len(runs(engine)) == 4
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Model.__table__)).scalar() > 0


def test_demo_replays_each_capture_day_of_an_archive_on_its_date_and_never_twice(tmp_path):
    """ModelDepot's archive replay holds the store on three capture days, long before the snapshot's own date:
    the demo's clock reaches each day in turn, between the other stores' snapshots."""
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    for store, folder in (("modeldepot", "wayback"), ("wolfram_nnr", "2019-03-01")):
        (tmp_path / "snapshots" / store).mkdir(parents=True)
        (tmp_path / "snapshots" / store / folder).symlink_to(SNAPSHOTS / store / folder)
    first = run_cli("demo", "--snapshots", str(tmp_path / "snapshots"), db=db).stdout.splitlines()
    assert "from 2018-06-15 to 2020-01-10" in first[0]
    assert [line.split()[:3] for line in first[1:5]] == [
        ["modeldepot", "2018-06-15", "complete"],
        ["wolfram_nnr", "2019-03-01", "complete"],
        ["modeldepot", "2019-03-20", "complete"],
        ["modeldepot", "2020-01-10", "complete"],
    ]
    assert [run["id"] for run in runs(open_database(db))] == [1, 2, 3, 4]  # recorded in the order observed
    again = run_cli("demo", "--snapshots", str(tmp_path / "snapshots"), db=db).stdout
    assert "already recorded" in again
    assert len(runs(open_database(db))) == 4
