"""storewatch.toml: the shipped default, mistakes reported in one line, schedules as a user writes them, and how a
crawl process is stopped."""

from __future__ import annotations

import json
import re
import signal
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import ROOT, run_cli
from crawler.crawl_process import CrawlProcess
from crawler.stores import known_stores
from crawler.schedule_config import ARCHIVE_SETTINGS, HEALTH_SETTINGS, NOTIFY_SETTINGS, SCHEDULER_SETTINGS, SCRAPYD_SETTINGS, SHIPPED_CONFIG, STORE_SCOPES, STORE_SETTINGS, cron_trigger, load_config

STORES = ["onnx_zoo", "pytorch_hub", "tfhub"]


def test_the_shipped_config_has_an_entry_for_every_store_with_a_spider():
    config = load_config(SHIPPED_CONFIG, known_stores=known_stores())
    assert set(config.stores) | set(config.disabled) == set(known_stores()), "a store needs a [stores.<store>] entry"
    assert set(STORES) <= set(config.stores)
    assert config.stores["tfhub"].cron == "30 2 * * *" and config.stores["tfhub"].every is None
    assert config.stores["onnx_zoo"].every == 12 * 3600 and config.stores["onnx_zoo"].jitter == 600
    assert all(schedule.replay is None for schedule in config.stores.values())  # `make run` crawls the live stores


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[stores.pytorch_hub\n", "not valid TOML"),
        ("[stores.nosuch]\n", "[stores.nosuch]: no spider for store 'nosuch'; known stores: "),
        ('[stores.tfhub]\ncron = "61 * * * *"\n', "stores.tfhub.cron: not a cron schedule: '61 * * * *'"),
        ('[stores.tfhub]\nevery = "soon"\n', "stores.tfhub.every: not a duration: 'soon' (use e.g. 30s, 15m, 6h, 1d, 1w)"),
        ('[stores.tfhub]\nevry = "1d"\n', "[stores.tfhub]: unknown setting 'evry'"),
        ('[stores.tfhub]\nevery = "1d"\ncron = "0 3 * * *"\n', "set either `every` or `cron`, not both"),
        ('[scheduler]\ntimezone = "Mars/Olympus"\n[stores.tfhub]\n', "scheduler.timezone: unknown time zone 'Mars/Olympus'"),
        ('[stores.tfhub]\nreplay = "no/such/folder"\n', "stores.tfhub.replay: snapshot folder not found"),
        ("[scheduler]\n", "no stores configured"),
        ('[stores.tfhub]\n[notify]\nurls = ["nosuch://user:secret@host/x"]\n', "notify.urls[0]: Apprise does not accept 'nosuch://…'"),
        ('[stores.tfhub]\n[notify]\nurls = ["json://127.0.0.1:1/", "json://"]\n', "notify.urls[1]: Apprise does not accept 'json://…'"),
        ('[stores.tfhub]\n[notify]\nurls = "json://user:secret@host/x"\n', "notify.urls: expected a list of Apprise URLs"),
        ('[stores.tfhub]\n[notify]\nurls = ["json://127.0.0.1:1/"]\non = ["failed_streak", "suspicious"]\n',
         "notify.on: unknown event 'suspicious' (known: failed_streak, suspect, mass_change)"),
        ('[stores.tfhub]\n[notify]\nurls = ["json://127.0.0.1:1/"]\nmass_change = 20\n', "notify.mass_change: expected a share between 0 and 1"),
        ('[stores.tfhub]\n[notify]\nurl = ["json://127.0.0.1:1/"]\n', "[notify]: unknown setting 'url' (known: mass_change, on, urls)"),
        ('[scheduler]\nrunner = "cluster"\n[stores.tfhub]\n', 'scheduler.runner: expected "local" or "scrapyd", got \'cluster\''),
        ('[scheduler]\nrunner = "scrapyd"\n[stores.tfhub]\n', 'runner = "scrapyd" needs [scrapyd] nodes = ["http://host:6800", ...]'),
        ('[scheduler]\nrunner = "scrapyd"\n[scrapyd]\nnodes = ["http://user:secret@node1:6800"]\n[stores.tfhub]\n',
         "scrapyd.nodes[0]: expected a node URL such as \"http://host:6800\" (no credentials"),
        ('[scheduler]\nrunner = "scrapyd"\n[scrapyd]\nnodes = [{ url = "http://node1:6800", capabilities = ["gpu"] }]\n[stores.tfhub]\n',
         "scrapyd.nodes[0]: capabilities must be a list of browser"),
    ],
)
def test_config_mistakes_give_one_line_and_exit_non_zero(text, message, tmp_path):
    config = tmp_path / "storewatch.toml"
    config.write_text(text)
    result = run_cli("schedule", "--config", str(config), "--db", str(tmp_path / "x.db"), check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {config}: ") and message in lines[0], result.stderr
    assert "secret" not in result.stderr  # notification URLs hold passwords and tokens


def test_a_missing_config_file_is_named(tmp_path):
    result = run_cli("status", "--config", str(tmp_path / "none.toml"), check=False)
    assert result.returncode == 2 and result.stderr.strip() == f"error: config file not found: {tmp_path / 'none.toml'}"


def test_store_settings_inherit_defaults_and_a_store_may_switch_to_cron(tmp_path):
    config = tmp_path / "storewatch.toml"
    config.write_text(
        '[defaults]\nevery = "6h"\nretries = 5\n\n[stores.tfhub]\ncron = "0 3 * * 1-5"\n\n'
        '[stores.onnx_zoo]\nretries = 0\n\n[stores.pytorch_hub]\nenabled = false\n'
    )
    loaded = load_config(config, known_stores=STORES)
    assert list(loaded.stores) == ["tfhub", "onnx_zoo"] and loaded.disabled == ("pytorch_hub",)
    assert (loaded.stores["tfhub"].cron, loaded.stores["tfhub"].every, loaded.stores["tfhub"].retries) == ("0 3 * * 1-5", None, 5)
    assert (loaded.stores["onnx_zoo"].every, loaded.stores["onnx_zoo"].retries) == (6 * 3600, 0)


def test_cron_weekday_numbers_mean_what_they_mean_in_crontab():
    """APScheduler 3 counts weekdays from Monday; crontab's 0 is Sunday. A user's `0 3 * * 0` must run on Sundays."""
    utc = ZoneInfo("UTC")
    start = datetime(2026, 11, 26, tzinfo=timezone.utc)  # a Thursday
    assert cron_trigger("0 3 * * 0", utc).get_next_fire_time(None, start).strftime("%A") == "Sunday"
    assert cron_trigger("0 3 * * 7", utc).get_next_fire_time(None, start).strftime("%A") == "Sunday"
    fires, previous = [], None
    for _ in range(5):
        previous = cron_trigger("0 3 * * 1-5", utc).get_next_fire_time(previous, previous or start)
        fires.append(previous.strftime("%a"))
    assert fires == ["Thu", "Fri", "Mon", "Tue", "Wed"]
    assert cron_trigger("*/15 * * * *", utc).get_next_fire_time(None, start) == start


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The scheduler") :]
    scoped = [setting for settings in STORE_SCOPES.values() for setting in settings]
    for setting in SCHEDULER_SETTINGS + STORE_SETTINGS + HEALTH_SETTINGS + NOTIFY_SETTINGS + ARCHIVE_SETTINGS + SCRAPYD_SETTINGS + tuple(scoped):
        assert re.search(rf"`{setting.key}`", section), f"{setting.key} is not documented in the README"


class StubbornCrawl(CrawlProcess):
    """A stand-in crawl process that ignores SIGINT (or not), to see how the scheduler stops it."""

    def __init__(self, ignores_sigint: bool, **kwargs) -> None:
        super().__init__("tfhub", "sqlite:///unused.db", stop_timeout=0.5, **kwargs)
        self.ignores_sigint = ignores_sigint

    def command(self) -> list[str]:
        ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN); " if self.ignores_sigint else ""
        return [sys.executable, "-c", f"import signal, time; {ignore}print('begun', flush=True); time.sleep(30)"]


@pytest.mark.parametrize("ignores_sigint", [False, True])
def test_a_crawl_past_its_time_limit_is_asked_to_stop_then_killed(ignores_sigint):
    crawl = StubbornCrawl(ignores_sigint)
    crawl.start()
    outcome = crawl.wait(time_limit=1)
    assert outcome.stopped == "time limit of 1s exceeded"
    assert outcome.killed is ignores_sigint
    assert outcome.returncode == (-signal.SIGKILL if ignores_sigint else -signal.SIGINT)
    assert outcome.seconds < 10


def test_a_crawl_that_has_not_begun_its_run_is_killed_at_once():
    crawl = StubbornCrawl(False, run_begun=lambda pid: False)
    crawl.start()
    outcome = crawl.wait(time_limit=0.5)
    assert outcome.killed and outcome.returncode == -signal.SIGKILL and outcome.seconds < 5



def test_status_reports_each_configured_store_before_any_run(tmp_path):
    (tmp_path / "x.db").touch()  # an empty database: status, a read command, does not create a missing one
    result = run_cli("status", "--config", str(SHIPPED_CONFIG), "--format", "json", db=str(tmp_path / "x.db"))
    report = json.loads(result.stdout)
    assert [store["store"] for store in report["stores"]] == list(load_config(SHIPPED_CONFIG, known_stores=known_stores()).stores)
    assert all(store["last_run"] is None and store["healthy"] for store in report["stores"])
    assert report["scheduler"] == {"running": False, "holder": None} and report["healthy"]


def test_scrapyd_nodes_declare_capabilities_and_the_scrapyd_runner_refuses_a_sqlite_database(tmp_path):
    config = tmp_path / "storewatch.toml"
    config.write_text(
        '[scheduler]\nrunner = "scrapyd"\n[scrapyd]\nnodes = ["http://node1:6800", { url = "http://node2:6800/", capabilities = [] }]\n'
        'lost_after = "30s"\n[stores.aws_marketplace]\n'
    )
    settings = load_config(config, known_stores=known_stores()).scrapyd
    assert [(node.url, node.capabilities) for node in settings.nodes] == [("http://node1:6800", {"browser"}), ("http://node2:6800", set())]
    assert settings.lost_after == 30 and settings.project == "storewatch"
    result = run_cli("schedule", "--config", str(config), "--db", str(tmp_path / "x.db"), check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ['error: runner = "scrapyd" needs the PostgreSQL database the nodes share (--db or STOREWATCH_DATABASE_URL), not SQLite']
