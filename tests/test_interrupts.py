"""Ctrl-C on a manual crawl: the run is recorded, the exit status says so, and nothing the crawl started lives on."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from storage.db import open_database
from storage.models import CrawlRun
from test_crawl_study_stores import require_chromium

TFHUB_OLD, TFHUB_NEW = snapshot_dir("tfhub", "2020-12-31"), snapshot_dir("tfhub", "2021-06-30")


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session id, command line) of every process."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(stat.parent.name)] = (int(fields[1]), int(fields[3]), command)
    return found


def browsers_of(pid: int) -> set[int]:
    """The Chromium and Playwright driver processes descended from process `pid`."""
    table = processes()
    family, grew = {pid}, True
    while grew:
        children = {child for child, (parent, _, _) in table.items() if parent in family} - family
        family |= children
        grew = bool(children)
    return {p for p in family if "chromium" in table[p][2] or "playwright/driver" in table[p][2]}


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and not (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")}


def crawl(db: str, *args: str) -> subprocess.Popen:
    """`storewatch crawl ...` in a session of its own, as a terminal runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", *args, "--db", db],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def interrupt(process: subprocess.Popen, times: int) -> tuple[str, str]:
    for _ in range(times):
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    out, err = process.communicate(timeout=120)
    time.sleep(0.5)  # let the kernel reap what the crawl's end killed
    return out, err


def running_run(db: str) -> bool:
    with open_database(db, create=False).connect() as connection:
        return connection.execute(select(func.count()).where(CrawlRun.status == "running")).scalar_one() > 0


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_records_the_run_partial_exits_130_and_leaves_no_process(tmp_path, times):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli("crawl", "tfhub", "--replay", str(TFHUB_OLD), db=db)
    before = len(cli_json("models", "tfhub", db=db))
    process = crawl(db, "tfhub", "--replay", str(TFHUB_NEW), "--fail", "*/assets/docs/*=slow:0.2")
    wait_for(lambda: running_run(db), 60, "the crawl to start recording")
    time.sleep(1)
    out, err = interrupt(process, times)

    assert process.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1] == "interrupted: the crawl stopped; its run is recorded partial and nothing was removed"
    assert "Traceback" not in err
    run = cli_json("runs", "--store", "tfhub", db=db)[-1]
    assert (run["status"], run["removed"]) == ("partial", 0)
    assert len(cli_json("models", "tfhub", db=db)) >= before
    left = [command for pid, (_, session, command) in processes().items() if session == process.pid]
    assert left == []  # the replay server went with the crawl


def test_ctrl_c_twice_while_a_page_renders_leaves_no_browser(tmp_path):
    require_chromium()
    snapshot = tmp_path / "2025-09-01"
    shutil.copytree(snapshot_dir("aws_marketplace", "2025-09-01"), snapshot)
    page = snapshot / "aws.amazon.com/marketplace/pp/prodview-j7x3wq9lb5tmc"  # the page only a browser can read
    page.write_text(page.read_text().replace("}, 200);", "}, 60000);"))  # its script now takes a minute
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    process = crawl(db, "aws_marketplace", "--replay", str(snapshot))
    wait_for(lambda: browsers_of(process.pid), 60, "Chromium to render the page")
    time.sleep(0.5)
    browser = browsers_of(process.pid)
    _, err = interrupt(process, 2)

    assert process.returncode == 130, err
    wait_for(lambda: not alive(browser), 15, "Chromium to exit with the crawl")  # it notices its driver gone
    assert [run["status"] for run in cli_json("runs", db=db)] == ["partial"]
