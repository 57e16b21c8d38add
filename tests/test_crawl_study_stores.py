"""End to end on the study's three stores: replayed crawls, a page rendered in Chromium, the archive backfill."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import cli_json, require_chromium, run_cli, snapshot_dir, snapshot_dirs
from crawler.browser import find_chromium

WAYBACK = snapshot_dir("modeldepot", "wayback")


def crawl(store: str, *dates: str, db: str) -> None:
    run_cli("crawl", store, *(arg for date in dates for arg in ("--replay", str(snapshot_dir(store, date)))), db=db)


def diff(db: str, store: str, start: str, end: str) -> dict:
    return cli_json("diff", store, "--from", start, "--to", end, db=db)


def changed_elements(store_diff: dict) -> dict[str, set[str]]:
    return {change["model_id"]: set(change["elements"]) for change in store_diff["changed"]}


def test_wolfram_nnr_dates_differ_as_built(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    crawl("wolfram_nnr", "2019-03-01", "2024-06-01", db=db)
    runs = cli_json("runs", "--store", "wolfram_nnr", db=db)
    assert [(r["status"], r["models_seen"], r["errors"]) for r in runs] == [("complete", 11, 0), ("complete", 12, 0)]
    found = diff(db, "wolfram_nnr", "2019-03-01", "2024-06-01")
    assert sorted(found["added"]) == ["GPT2-Transformer-Trained-on-WebText-Data", "YOLO-V8-Detect-Trained-on-MS-COCO-Data"]
    assert found["removed"] == ["Yahoo-Open-NSFW-Model-V1"]
    changed = changed_elements(found)
    assert set(changed) == {"Very-Deep-Net-for-Super-Resolution", "SSD-VGG-300-Trained-on-PASCAL-VOC-Data", "Wolfram-ImageIdentify-Net-V1"}
    assert {"version", "updated_at", "size", "dependencies", "release_notes"} <= changed["Very-Deep-Net-for-Super-Resolution"]
    assert "license" in changed["SSD-VGG-300-Trained-on-PASCAL-VOC-Data"]
    assert {"description", "keywords"} <= changed["Wolfram-ImageIdentify-Net-V1"] and "version" not in changed["Wolfram-ImageIdentify-Net-V1"]
    ssd = cli_json("history", "wolfram_nnr", "SSD-VGG-300-Trained-on-PASCAL-VOC-Data", db=db)
    assert ssd[1]["changes"]["license"]["new"]["name"] == "Apache License 2.0"


def test_plain_spiders_never_start_a_browser(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    crawl("wolfram_nnr", "2019-03-01", db=db)
    stats = cli_json("runs", db=db)[0]["stats"]
    assert stats["downloader/request_count"] == 12
    assert not any(key.startswith("playwright/") for key in stats)


def test_aws_marketplace_renders_the_script_only_page_in_chromium_and_differs_as_built(tmp_path):
    require_chromium()
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    crawl("aws_marketplace", "2025-09-01", "2026-08-20", db=db)
    runs = cli_json("runs", "--store", "aws_marketplace", db=db)
    assert [(r["status"], r["models_seen"], r["errors"]) for r in runs] == [("complete", 7, 0), ("complete", 7, 0)]
    for run in runs:  # the JS-only page went through the browser, and the run says so
        assert run["stats"]["playwright/page_count"] == 1 and run["stats"]["storewatch/rendered_pages"] == 1
        assert run["stats"]["playwright/browser_count"] == 1
    clinical = {m["model_id"]: m for m in cli_json("models", "aws_marketplace", "--as-of", "2025-09-01", db=db)}["prodview-j7x3wq9lb5tmc"]
    assert clinical["name"] == "Clinical Entity Extraction" and clinical["provider"] == "MedLex Labs"
    assert clinical["version"] == "1.0.0" and clinical["access"]["delivery"] == ["SageMaker Model"]
    assert clinical["pricing"]["rate_cards"][0]["price"] and clinical["terms"]["refund_policy"]
    found = diff(db, "aws_marketplace", "2025-09-01", "2026-08-20")
    assert found["added"] == ["prodview-m9ga5sk2ud7wx"] and found["removed"] == ["prodview-t5c9hm3wa7jgv"]
    changed = changed_elements(found)
    assert set(changed) == {"prodview-p8d2rj5nfy6sc", "prodview-b6wz4mtq9hr2e", "prodview-f2n7xk4ds8qlu", "prodview-j7x3wq9lb5tmc"}
    assert changed["prodview-p8d2rj5nfy6sc"] == {"pricing"}
    assert changed["prodview-f2n7xk4ds8qlu"] == {"terms"}
    # The forecasting listing only gained reviews: counters moved, the listing did not change.
    reviews = cli_json("metrics", "aws_marketplace", "prodview-r4y8ne2kv6dzq", "--metric", "reviews", db=db)
    assert [(row["observed_at"][:10], row["value"]) for row in reviews] == [("2025-09-01", 35), ("2026-08-20", 41)]
    assert {"version", "release_notes", "pricing", "runtime"} <= changed["prodview-b6wz4mtq9hr2e"]
    assert {"version", "release_notes", "updated_at"} <= changed["prodview-j7x3wq9lb5tmc"]


def test_modeldepot_crawl_records_each_capture_day_as_a_run(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    result = run_cli("crawl", "modeldepot", "--replay", str(WAYBACK), db=db)
    runs = cli_json("runs", "--store", "modeldepot", db=db)
    assert [(r["observed_at"], r["status"], r["models_seen"]) for r in runs] == [
        ("2018-06-15T08:30:12Z", "complete", 2),
        ("2019-03-20T11:45:08Z", "complete", 4),
        ("2020-01-10T07:22:33Z", "complete", 3),
    ]
    assert "modeldepot 2020-01-10" in result.stdout
    found = diff(db, "modeldepot", "2018-06-15", "2020-01-10")
    assert sorted(found["added"]) == ["hellochick/icnet", "timosaemann/enet"] and found["removed"] == ["mikeshi/delf"]
    as_of = {m["model_id"]: m for m in cli_json("models", "modeldepot", "--as-of", "2019-12-31", db=db)}
    assert "mikeshi/delf" in as_of and as_of["afowler/sentiment-neuron"]["popularity"] == ["stars"]
    assert cli_json("metrics", "modeldepot", "afowler/sentiment-neuron", "--metric", "stars", db=db)[-1]["value"] == 57
    icnet = cli_json("history", "modeldepot", "hellochick/icnet", db=db)
    assert [v["valid_from"][:10] for v in icnet] == ["2019-03-20", "2020-01-10"]
    assert icnet[1]["changes"]["framework"] == {"old": "TensorFlow 1.4", "new": "TensorFlow 1.12"}
    assert icnet[1]["changes"]["demo"]["new"] is None
    sentiment = cli_json("history", "modeldepot", "afowler/sentiment-neuron", db=db)
    assert len(sentiment) == 2  # no new capture in 2020: the 2019 record holds


def test_backfill_builds_dated_runs_oldest_first_and_repeats_harmlessly(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    first = run_cli("backfill", "modeldepot", "--from", "2018-01-01", "--to", "2019-12-31", "--replay", str(WAYBACK), db=db)
    assert "2 snapshots recorded" in first.stdout
    second = run_cli("backfill", "modeldepot", "--from", "2018-01-01", "--replay", str(WAYBACK), db=db)
    assert "2 snapshots recorded" in second.stdout  # older days skipped, the latest read again
    runs = cli_json("runs", "--store", "modeldepot", db=db)
    assert [r["observed_at"][:10] for r in runs] == ["2018-06-15", "2019-03-20", "2019-03-20", "2020-01-10"]
    assert (runs[2]["added"], runs[2]["changed"], runs[2]["removed"]) == (0, 0, 0)  # the same day again: nothing new
    assert all(run["source"].startswith("replay:wayback") and "capture 20" in run["source"] for run in runs)
    older = run_cli("backfill", "modeldepot", "--to", "2019-12-31", "--replay", str(WAYBACK), db=db)
    assert "0 snapshots recorded" in older.stdout and len(cli_json("runs", db=db)) == 4


def test_backfill_every_interval_keeps_one_capture_day_per_period(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli("backfill", "modeldepot", "--every", "2Y", "--replay", str(WAYBACK), db=db)
    runs = cli_json("runs", "--store", "modeldepot", db=db)
    assert [r["observed_at"][:10] for r in runs] == ["2018-06-15", "2020-01-10"]
    assert (runs[1]["added"], runs[1]["removed"]) == (2, 1)


def test_backfill_pauses_on_429_and_a_failed_capture_removes_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli(
        "backfill", "modeldepot", "--replay", str(WAYBACK), "--backoff", "0.05",
        "--fail", "*/20190320115530id_/*=429", db=db,
    )
    runs = cli_json("runs", "--store", "modeldepot", db=db)
    assert [r["status"] for r in runs] == ["complete"] * 3
    assert runs[1]["errors"] == 1 and "timosaemann/enet" in runs[1]["error_summary"]
    assert runs[-1]["stats"]["storewatch/backoff_count"] == 5  # paused and retried, then gave up
    models = {m["model_id"] for m in cli_json("models", "modeldepot", db=db)}
    assert "timosaemann/enet" not in models  # never readable, so never added -- and nothing else lost
    assert {"afowler/sentiment-neuron", "hellochick/icnet"} <= models


def test_a_failed_archive_index_records_nothing_and_says_why(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    result = run_cli("backfill", "modeldepot", "--replay", str(WAYBACK), "--fail", "/web.archive.org/cdx/*=500", db=db, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no capture day" in result.stderr and "HTTP 500" in result.stderr
    assert cli_json("runs", db=db) == []


def test_backfill_refuses_stores_not_crawled_through_the_archive(tmp_path):
    result = run_cli("backfill", "pytorch_hub", db=f"sqlite:///{tmp_path / 'x.db'}", check=False)
    assert result.returncode == 2
    assert "stores that can be backfilled: aws_marketplace, modeldepot, wolfram_nnr" in result.stderr


def test_a_render_that_never_settles_fails_at_the_download_timeout(monkeypatch):
    import asyncio

    from scrapy import Request
    from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
    from twisted.internet.error import TimeoutError as DownloadTimeoutError

    from crawler.browser import BoundedPlaywrightHandler

    async def never_settles(self, request, spider=None):
        await asyncio.Event().wait()

    monkeypatch.setattr(ScrapyPlaywrightDownloadHandler, "_download_request", never_settles)
    handler = object.__new__(BoundedPlaywrightHandler)  # no browser: only the timeout is under test
    request = Request("http://127.0.0.1:9/page", meta={"playwright": True, "download_timeout": 0.05})
    with pytest.raises(DownloadTimeoutError, match="rendering took longer than 0.05 s"):
        asyncio.run(handler._download_request(request))


def test_chromium_is_found_or_overridden(tmp_path, monkeypatch):
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_chromium(str(fake)) == str(fake)
    monkeypatch.setenv("STOREWATCH_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)
    monkeypatch.setenv("STOREWATCH_CHROMIUM", str(tmp_path / "missing"))
    assert find_chromium() is None
    monkeypatch.delenv("STOREWATCH_CHROMIUM")
    if Path("/usr/bin/chromium").exists():
        assert find_chromium() == "/usr/bin/chromium"


def wayback_replay_of(store: str, directory: Path) -> Path:
    """A replay of web.archive.org holding the store's fixture snapshots as captures at noon on their dates."""
    from crawler.runner import spider_class
    from crawler.wayback import cdx_url

    listing_url = spider_class(store).store_config.live_urls[0]
    rows = [["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]]
    for snapshot in snapshot_dirs(store):
        timestamp = snapshot.name.replace("-", "") + "120000"
        for path in snapshot.rglob("*"):
            if path.is_file() and path.name != "SNAPSHOT.json":
                target = directory / "web.archive.org/web" / f"{timestamp}id_" / "https:" / path.relative_to(snapshot)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        rows.append(["listing", timestamp, listing_url, "text/html", "200", f"DIGEST{timestamp}", "1000"])
    index = directory / cdx_url(listing_url.split("://", 1)[1], match_type="exact", limit=10, fields=False).removeprefix("https://")
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps(rows))
    (directory / "SNAPSHOT.json").write_text(json.dumps({"store": store, "observed_at": "2026-09-01T00:00:00Z"}))
    return directory


def test_backfill_a_web_store_from_archived_captures_of_its_own_pages(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    archive = wayback_replay_of("wolfram_nnr", tmp_path / "wayback")
    result = run_cli("backfill", "wolfram_nnr", "--replay", str(archive), db=db)
    assert "2 snapshots recorded" in result.stdout
    runs = cli_json("runs", "--store", "wolfram_nnr", db=db)
    assert [(r["observed_at"], r["status"], r["models_seen"]) for r in runs] == [
        ("2019-03-01T12:00:00Z", "complete", 11),
        ("2024-06-01T12:00:00Z", "complete", 12),
    ]
    assert (runs[1]["added"], runs[1]["changed"], runs[1]["removed"]) == (2, 3, 1)
    ssd = cli_json("history", "wolfram_nnr", "SSD-VGG-300-Trained-on-PASCAL-VOC-Data", db=db)
    assert ssd[1]["changes"]["license"]["new"]["name"] == "Apache License 2.0"
    assert runs[0]["stats"]["downloader/request_count"] == 1 + 2 * 1 + 11 + 12  # index, 2 listings, the pages


def test_backfill_a_store_whose_pages_need_a_browser(tmp_path):
    require_chromium()
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    archive = wayback_replay_of("aws_marketplace", tmp_path / "wayback")
    result = run_cli("backfill", "aws_marketplace", "--replay", str(archive), db=db)
    assert "2 snapshots recorded" in result.stdout
    runs = cli_json("runs", "--store", "aws_marketplace", db=db)
    assert [(r["observed_at"], r["status"], r["models_seen"], r["errors"]) for r in runs] == [
        ("2025-09-01T12:00:00Z", "complete", 7, 0),
        ("2026-08-20T12:00:00Z", "complete", 7, 0),
    ]
    assert (runs[1]["added"], runs[1]["changed"], runs[1]["removed"]) == (1, 4, 1)  # the listing that only gained reviews is no change
    # the script-only page was rendered once per capture day, each time in a context of its own
    assert runs[0]["stats"]["playwright/page_count"] == 2 and runs[0]["stats"]["storewatch/rendered_pages"] == 2
    clinical = cli_json("history", "aws_marketplace", "prodview-j7x3wq9lb5tmc", db=db)
    assert [v["valid_from"][:10] for v in clinical] == ["2025-09-01", "2026-08-20"]
    assert clinical[0]["elements"]["name"] == "Clinical Entity Extraction" and clinical[0]["elements"]["version"] == "1.0.0"
    assert clinical[1]["changes"]["version"] == {"old": "1.0.0", "new": "1.1.0"}
