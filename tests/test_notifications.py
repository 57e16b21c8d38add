"""Notifications: each event a run causes is one message, sent by Apprise's own `json://` notifier to a local
receiver, from the scheduler and from `storewatch crawl`, never from the demo; a notifier that fails costs one
warning line, never a run. (`[notify]` mistakes are with the other config mistakes, in test_schedule_config.)"""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from conftest import run_cli, snapshot_dir
from crawler.schedule_config import SHIPPED_CONFIG, load_config
from notifications import Notifier, NotifySettings
from storage.db import open_database
from storage.events import MassThresholds
from storage.models import CrawlRun
from storage.queries import list_runs
from storage.health import HealthPolicy
from storage.writer import SnapshotWriter
from test_scheduler import start, statuses, wait_until, write_config  # noqa: F401 -- start is a fixture

STORE = "onnx_zoo"
MODELS = {f"model-{i:02d}": {"name": f"Model {i}", "license": "MIT"} for i in range(20)}


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON message posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A mass removal is held as `suspect` by the crawl-health gate (its own event); these runs are meant to be
# believed, as if a person had accepted them, so the gate is opened wide.
BELIEVED = HealthPolicy(max_drop=1.0)


def record(engine, day: str, present: dict[str, dict], status: str = "complete", error: str | None = None) -> int:
    """A run of STORE as the snapshot writer records it; returns its id."""
    writer = SnapshotWriter(engine, STORE, datetime.fromisoformat(day).replace(tzinfo=timezone.utc), f"{STORE}/1", policy=BELIEVED)
    run_id = writer.start()
    for model_id, elements in present.items():
        writer.add(model_id, elements, {"id": model_id})
    writer.finish(status, error_summary=error)
    return run_id


def mark_suspect(engine, run_id: int, reason: str) -> None:
    """Make a finished run `suspect`, as the crawl-health gate will (the writer on this branch cannot yet)."""
    with engine.begin() as connection:
        connection.execute(update(CrawlRun.__table__).where(CrawlRun.id == run_id).values(status="suspect", error_summary=reason))


def notifier(urls: list[str], **settings) -> Notifier:
    return Notifier(NotifySettings(urls=tuple(urls), **settings))


def test_an_ordinary_complete_run_sends_nothing(engine, receiver):
    notify = notifier([receiver.url()])
    for day in ("2024-01-01", "2024-02-01"):
        assert notify.run_finished(engine, record(engine, day, MODELS)) == []
    changed_a_little = {**MODELS, "model-00": {"name": "Model 0", "license": "Apache-2.0"}, "model-99": {"name": "New"}}
    assert notify.run_finished(engine, record(engine, "2024-03-01", changed_a_little)) == []
    assert receiver.messages == []


def test_a_suspect_run_is_one_message_with_the_store_the_run_the_reason_and_the_commands(engine, receiver):
    notify = notifier([receiver.url()])
    first = record(engine, "2024-01-01", MODELS)
    suspect = record(engine, "2024-02-01", {}, status="partial")
    mark_suspect(engine, suspect, "the listing held 0 models; the previous complete run had 20")
    events = notify.run_finished(engine, suspect)
    assert [event.kind for event in events] == ["suspect"]
    [message] = receiver.messages
    assert message["path"] == "/hook" and message["type"] == "warning"
    assert message["title"] == f"storewatch: {STORE}: run {suspect} is suspect"
    body = message["message"]
    assert f"Store:  {STORE}\n" in body
    assert f"Run:    {suspect}, observed 2024-02-01T00:00:00Z, status suspect\n" in body
    assert "Reason: the listing held 0 models; the previous complete run had 20\n" in body
    assert "Counts: 0 seen, +0 added, ~0 changed, -0 removed, ^0 returned, 0 errors\n" in body
    assert f"  storewatch runs --store {STORE} --status suspect\n" in body
    assert f"  storewatch diff {STORE} --from run:{first} --to run:{suspect}\n" in body
    assert f"  storewatch accept {suspect} " in body


def test_a_mass_change_is_one_message_whatever_it_changed(engine, receiver):
    notify = notifier([receiver.url("/a"), receiver.url("/b")])
    record(engine, "2024-01-01", MODELS)
    half = dict(list(MODELS.items())[:10])
    removals = record(engine, "2024-02-01", half)
    assert [event.kind for event in notify.run_finished(engine, removals)] == ["mass_change"]
    assert [message["path"] for message in receiver.messages] == ["/a", "/b"]  # one message to each URL
    message = receiver.messages[0]
    assert message["title"] == f"storewatch: {STORE}: run {removals} changed a large share of the store"
    assert "Reason: 10 models removed (50% of 20)\n" in message["message"]
    assert f"storewatch diff {STORE} --from run:{removals - 1} --to run:{removals}" in message["message"]

    relicensed = {key: {**value, "license": "Apache-2.0"} for key, value in half.items()}
    relicensing = record(engine, "2024-03-01", relicensed | {"model-50": {"name": "New"}})
    notify.run_finished(engine, relicensing)
    assert len(receiver.messages) == 4
    assert "Reason: license changed for 10 of 10 models in one run\n" in receiver.messages[2]["message"]


def test_the_mass_change_share_is_the_reports_unless_configured(engine, receiver):
    record(engine, "2024-01-01", MODELS)
    three_gone = record(engine, "2024-02-01", dict(list(MODELS.items())[3:]))  # 15%: more than 10%, but 3 models
    five_gone = record(engine, "2024-03-01", dict(list(MODELS.items())[8:]))  # 5 of 17: 29%
    assert notifier([receiver.url()]).run_finished(engine, three_gone) == []
    assert [e.kind for e in notifier([receiver.url()]).run_finished(engine, five_gone)] == ["mass_change"]
    assert notifier([receiver.url()], mass_change=MassThresholds.uniform(0.5)).run_finished(engine, five_gone) == []
    assert len(receiver.messages) == 1


def test_a_failed_streak_is_one_message_when_it_reaches_fail_after(engine, receiver):
    notify = notifier([receiver.url()], fail_after=2)
    record(engine, "2024-01-01", MODELS)
    reason = "1 listing request failed; HTTP 500 for https://raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
    failed = [record(engine, f"2024-02-0{day}", {}, status="failed", error=reason) for day in (1, 2)]
    assert notify.run_finished(engine, failed[0]) == []  # one failure is not a streak yet
    assert [event.kind for event in notify.run_finished(engine, failed[1])] == ["failed_streak"]
    [message] = receiver.messages
    assert message["type"] == "failure" and message["title"] == f"storewatch: {STORE}: the last 2 runs failed"
    assert f"Run:    {failed[1]}, observed 2024-02-02T00:00:00Z, status failed\n" in message["message"]
    assert f"Reason: the last 2 runs of {STORE} failed (runs {failed[0]}, {failed[1]}); the last one: {reason}\n" in message["message"]
    assert message["message"].endswith(f"Look closer:\n  storewatch runs --store {STORE}\n  storewatch status")

    assert notify.run_finished(engine, record(engine, "2024-02-03", {}, status="failed", error=reason)) == []  # longer: no repeat
    record(engine, "2024-02-04", MODELS)
    again = [record(engine, f"2024-02-0{day}", {}, status="failed", error=reason) for day in (5, 6)]
    assert notify.run_finished(engine, again[0]) == [] and len(notify.run_finished(engine, again[1])) == 1
    assert len(receiver.messages) == 2  # a new streak after a good run is announced again


def test_events_not_listed_in_on_send_nothing(engine, receiver):
    record(engine, "2024-01-01", MODELS)
    suspect = record(engine, "2024-02-01", {}, status="partial")
    mark_suspect(engine, suspect, "the listing held 0 models")
    assert notifier([receiver.url()], on=("failed_streak", "mass_change")).run_finished(engine, suspect) == []
    assert receiver.messages == []


def test_an_unreachable_notifier_is_one_warning_line_and_costs_nothing(engine, caplog):
    port = closed_port()
    notify = notifier([f"json://user:secret@127.0.0.1:{port}/hook/TOKEN"])
    record(engine, "2024-01-01", MODELS)
    suspect = record(engine, "2024-02-01", {}, status="partial")
    mark_suspect(engine, suspect, "the listing held 0 models")
    with caplog.at_level("WARNING"):
        assert [event.kind for event in notify.run_finished(engine, suspect)] == ["suspect"]
    [line] = [record.getMessage() for record in caplog.records if record.name.startswith("storewatch")]  # pytest also hears Apprise
    assert line == f"notify: the suspect message for {STORE} run {suspect} was not delivered to json://user:****@127.0.0.1:{port}/…"
    assert "secret" not in caplog.text and "TOKEN" not in caplog.text


PYTORCH = [snapshot_dir("pytorch_hub", day) for day in ("2019-06-30", "2019-09-30", "2019-12-31")]


def notify_config(tmp_path, urls: list[str], on: list[str] | None = None, fail_after: int = 3):
    lines = ["[scheduler]", f"fail_after = {fail_after}", "", "[stores.pytorch_hub]", "", "[notify]", f"urls = {json.dumps(urls)}"]
    if on is not None:
        lines.append(f"on = {json.dumps(on)}")
    (tmp_path / "storewatch.toml").write_text("\n".join(lines) + "\n")
    return tmp_path / "storewatch.toml"


def test_a_manual_crawl_notifies_once_per_event_of_its_runs(tmp_path, receiver):
    """The real pytorch_hub snapshots: the 2019-12-31 run changed `usage` for 13 of 24 models (a mass change)."""
    config = notify_config(tmp_path, [receiver.url()])
    db = str(tmp_path / "sw.db")
    result = run_cli("crawl", "pytorch_hub", *(f"--replay={path}" for path in PYTORCH), db=db, env={"STOREWATCH_CONFIG": str(config)})
    assert "warning" not in result.stderr, result.stderr
    [message] = receiver.messages
    third = list_runs(open_database(db), "pytorch_hub")[2]
    assert message["title"] == f"storewatch: pytorch_hub: run {third['id']} changed a large share of the store"
    assert "Reason: usage changed for 13 of 24 models in one run; keywords changed for 12 of 24 models in one run\n" in message["message"]


def test_a_manual_crawl_whose_notifier_is_down_warns_in_one_line_and_records_its_runs(tmp_path):
    config = notify_config(tmp_path, [f"json://user:secret@127.0.0.1:{closed_port()}/hook"])
    db = str(tmp_path / "sw.db")
    result = run_cli("crawl", "pytorch_hub", *(f"--replay={path}" for path in PYTORCH), db=db, env={"STOREWATCH_CONFIG": str(config)})
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "mass_change message for pytorch_hub run 3 was not delivered to json://user:****@127.0.0.1:" in warnings[0]
    assert "secret" not in result.stderr + result.stdout
    assert [run["status"] for run in list_runs(open_database(db), "pytorch_hub")] == ["complete"] * 3


def test_the_demo_notifies_nobody(tmp_path, receiver):
    """Even with a [notify] config in reach (of the demo and of its crawl processes), and a mass change to tell."""
    config = notify_config(tmp_path, [receiver.url()])
    (tmp_path / "snapshots" / "pytorch_hub").mkdir(parents=True)
    for path in PYTORCH:
        (tmp_path / "snapshots" / "pytorch_hub" / path.name).symlink_to(path)
    db = str(tmp_path / "sw.db")
    run_cli("demo", "--snapshots", str(tmp_path / "snapshots"), db=db, env={"STOREWATCH_CONFIG": str(config)})
    assert len(list_runs(open_database(db), "pytorch_hub")) == 3 and receiver.messages == []


def test_the_scheduler_announces_a_failed_streak_once(start, tmp_path, receiver, monkeypatch):
    """The real service: the listing answers 500, the run and its retry fail, the next scheduled run fails too."""
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    engine = open_database(db)
    replay = {"replay": str(PYTORCH[0]), "retries": 1, "retry_backoff": "1s"}
    config = tmp_path / "storewatch.toml"

    def configure(store: dict) -> None:
        write_config(config, {"pytorch_hub": store}, {"fail_after": 2})
        config.write_text(config.read_text() + f'\n[notify]\nurls = ["{receiver.url()}"]\n')

    configure(replay)
    monkeypatch.setenv("STOREWATCH_CONFIG", str(config))  # its crawl processes see the [notify] section too
    scheduler = start(config, db, "good")
    wait_until(lambda: statuses(engine) == ["complete"], 60, "the first run")
    assert scheduler.stop() == 0 and receiver.messages == []

    configure({**replay, "every": "3s", "replay_faults": ["/api.github.com/*=500"]})
    scheduler = start(config, db, "failing")
    wait_until(lambda: statuses(engine)[1:4] == ["failed"] * 3, 60, "a failed run, its retry, and the next failed run")
    assert scheduler.stop() == 0
    [message] = receiver.messages  # not one from the crawl process as well, nor one per further failure
    streak = [run["id"] for run in list_runs(engine, "pytorch_hub")[1:3]]
    assert message["title"] == "storewatch: pytorch_hub: the last 2 runs failed"
    assert f"(runs {streak[0]}, {streak[1]}); the last one: " in message["message"] and "HTTP 500" in message["message"]


def test_the_shipped_configs_notify_section_works_once_uncommented(tmp_path):
    shipped = SHIPPED_CONFIG.read_text()
    assert "\n[notify]" not in shipped  # nobody is told until a person adds URLs
    block = shipped[shipped.index("# [notify]") :]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    config = tmp_path / "storewatch.toml"
    config.write_text("[stores.onnx_zoo]\n\n" + uncommented + "\n")
    settings = load_config(config, known_stores=["onnx_zoo"]).notify
    assert len(settings.urls) == 4 and settings.on == ("failed_streak", "suspect", "mass_change")
