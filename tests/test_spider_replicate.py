"""Replicate: extraction from recorded model objects, the cursor listing, the token a live crawl needs, 429s."""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.utils.test import get_crawler

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from crawler.accounting import MalformedListing, UnreadablePage
from crawler.backoff import BackoffMiddleware
from crawler.items import ModelBatch, ModelRecord, UnreadableModel
from crawler.middlewares import StoreAuthMiddleware
from spiders.replicate import LISTING_REPEATS, LISTING_URL, STORE, ReplicateSpider, extract_record, listing_page
from storage.db import open_database
from test_scheduler import runs, start, wait_until, write_config  # noqa: F401 -- `start` is a fixture

FIXTURES = ROOT / "tests" / "fixtures" / "replicate"
LISTING = "api.replicate.com/v1/models"
# Where a live crawl would go if the token check let it through: nowhere (tests never touch the network).
NO_NETWORK = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


def model_object(recorded: str) -> dict:
    return json.loads((FIXTURES / f"stability-ai_sdxl_{recorded}.json").read_text())


def listing_pages(date: str) -> list[dict]:
    """The snapshot's listing pages, first page first (the cursor pages sort after `models`)."""
    folder = snapshot_dir("replicate", date) / "api.replicate.com" / "v1"
    return [json.loads(path.read_text()) for path in sorted(folder.glob("models*"))]


def listed_ids(date: str) -> set[str]:
    return {f"{result['owner']}/{result['name']}" for page in listing_pages(date) for result in page["results"]}


# -- extraction --------------------------------------------------------------------------------------------


def test_model_object_maps_onto_elements():
    api_record = model_object("2024-10-04T181505Z")
    record = extract_record(api_record)
    version = api_record["latest_version"]
    assert record.model_id == "stability-ai/sdxl"
    elements = record.elements
    assert (elements["name"], elements["provider"]) == ("sdxl", "stability-ai")
    assert elements["description"] == "A text-to-image generative AI model that creates beautiful images"
    assert (elements["version"], elements["updated_at"]) == (version["id"], version["created_at"])
    assert elements["published_at"] == "2023-07-26T17:53:09.882651Z"
    assert elements["paper"] == "https://arxiv.org/abs/2307.01952"
    assert elements["source_code"] == "https://github.com/replicate/cog-sdxl"
    assert elements["license"] == api_record["license_url"]
    assert elements["access"] == {"visibility": "public"}  # weights_url is null
    assert elements["runtime"] == {"cog_version": version["cog_version"]}
    assert elements["popularity"] == ["run_count"]
    schemas = version["openapi_schema"]["components"]["schemas"]
    assert elements["io_format"]["input"] == schemas["Input"] and elements["io_format"]["output"] == schemas["Output"]
    assert set(elements["io_format"]["definitions"]) == {"refine", "scheduler"}  # the enums Input refers to
    example = api_record["default_example"]
    assert elements["demo"] == {"prediction": example["id"], "input": example["input"], "output": example["output"]}
    assert record.counters == {"run_count": 66336540}


def test_every_listed_model_of_the_recorded_pages_extracts_with_the_required_elements():
    for date in ("2023-10-04", "2023-11-07"):
        for page in listing_pages(date):
            for result in page["results"]:
                record = extract_record(result)
                assert all(record.elements.get(key) for key in STORE.required_elements), record.model_id
                assert set(record.elements) <= set(STORE.elements), record.model_id


def test_a_run_count_tick_changes_neither_elements_nor_raw_record():
    morning, afternoon = model_object("2023-10-04T092750Z"), model_object("2023-10-04T133129Z")
    assert {key for key in morning.keys() | afternoon.keys() if morning.get(key) != afternoon.get(key)} == {"run_count"}
    before, after = extract_record(morning), extract_record(afternoon)
    assert (before.elements, before.raw) == (after.elements, after.raw)
    assert (before.counters, after.counters) == ({"run_count": 6465507}, {"run_count": 6517655})
    assert "run_count" not in before.raw and "6465507" not in json.dumps(before.elements)


def test_a_malformed_model_object_is_unreadable():
    api_record = model_object("2023-10-04T092750Z")
    with pytest.raises(UnreadablePage, match="stability-ai/sdxl: latest_version is a JSON str"):
        extract_record({**api_record, "latest_version": "39ed52f2"})
    with pytest.raises(UnreadablePage, match="without an owner and a name"):
        extract_record({**api_record, "owner": None})


def test_a_page_of_another_shape_is_not_the_listing():
    for page in ([], {"detail": "Invalid token."}, {"results": [], "next": "/v1/models?cursor=x"}):
        with pytest.raises(MalformedListing):
            listing_page(page)


# -- the spider --------------------------------------------------------------------------------------------


def parse(spider: ReplicateSpider, url: str, page: dict) -> tuple[ModelBatch, list[Request]]:
    response = TextResponse(url, body=json.dumps(page).encode(), encoding="utf-8", request=Request(url))
    output = list(spider.parse_listing(response))
    (batch,) = [item for item in output if isinstance(item, ModelBatch)]
    return batch, [request for request in output if isinstance(request, Request)]


def test_one_batch_per_page_the_cursor_followed_and_a_repeated_id_counted_once():
    crawler = get_crawler(ReplicateSpider)
    spider = ReplicateSpider.from_crawler(crawler)
    first, second = listing_pages("2023-11-07")
    batch, following = parse(spider, LISTING_URL, first)
    assert [request.url for request in following] == [first["next"]] and following[0].meta["listing"]
    assert [record.model_id for record in batch.records] == [f"{r['owner']}/{r['name']}" for r in first["results"]]
    drifted = {**second, "results": [first["results"][0], *second["results"], {**second["results"][0], "latest_version": []}]}
    batch, following = parse(spider, first["next"], drifted)  # a model that moved up between the two requests
    assert following == []
    assert len(batch.records) == 25 and all(isinstance(record, ModelRecord) for record in batch.records)
    assert crawler.stats.get_value(LISTING_REPEATS) == 2


def test_a_next_cursor_that_leads_back_is_a_listing_failure_not_the_end_of_the_store():
    crawler = get_crawler(ReplicateSpider)
    spider = ReplicateSpider.from_crawler(crawler)
    first, second = listing_pages("2023-11-07")
    parse(spider, LISTING_URL, first)
    _, following = parse(spider, first["next"], {**second, "next": first["next"]})  # the cursor loops
    assert following == []
    assert crawler.stats.get_value("storewatch/listing_failures") == 1


def test_an_unreadable_result_is_kept_as_unreadable():
    spider = ReplicateSpider.from_crawler(get_crawler(ReplicateSpider))
    (page,) = listing_pages("2023-10-04")
    broken = {**page, "results": [{**page["results"][0], "default_example": "gone"}, *page["results"][1:]]}
    batch, _ = parse(spider, LISTING_URL, broken)
    assert isinstance(batch.records[0], UnreadableModel) and len(batch.records) == 25


def test_the_token_goes_to_the_api_host_only_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_secret")
    middleware = StoreAuthMiddleware(SimpleNamespace(spider=SimpleNamespace(store_config=STORE)))
    for url, expected in ((LISTING_URL, b"Bearer r8_secret"), ("https://replicate.delivery/pbxt/x.png", None)):
        request = Request(url)
        middleware.process_request(request)
        assert request.headers.get("Authorization") == expected


def test_a_429_pauses_the_crawl_for_its_retry_after_then_asks_again():
    crawler = get_crawler(ReplicateSpider)
    assert "crawler.backoff.BackoffMiddleware" in crawler.settings.getdict("DOWNLOADER_MIDDLEWARES")
    paused = []
    crawler.engine = SimpleNamespace(pause=lambda: paused.append(True), unpause=lambda: paused.append(False))
    middleware = BackoffMiddleware.from_crawler(crawler)
    throttled = Response(
        LISTING_URL, status=429, headers={"Retry-After": "1"}, body=b'{"detail":"Request was throttled. Expected available in 1 second."}'
    )
    retry = asyncio.run(middleware.process_response(Request(LISTING_URL), throttled))
    assert isinstance(retry, Request) and retry.url == LISTING_URL and retry.meta["backoff_attempt"] == 1
    assert paused == [True, False] and crawler.stats.get_value("storewatch/backoff_seconds") == 1.0


# -- end to end --------------------------------------------------------------------------------------------


def test_replayed_listing_records_complete_runs_and_the_diff_between_them(db_url):
    token = {"REPLICATE_API_TOKEN": "r8_dummy"}
    first, second = snapshot_dir("replicate", "2023-10-04"), snapshot_dir("replicate", "2023-11-07")
    printed = run_cli("crawl", "replicate", "--replay", str(first), "--replay", str(second), db=db_url, env=token).stdout
    recorded = cli_json("runs", "--store", "replicate", db=db_url)
    # each run's line says how many run counts it recorded (all new on the first date; those that moved on the second)
    with open_database(db_url).connect() as connection:
        counted = dict(connection.execute(text("SELECT run_id, count(*) FROM model_metrics GROUP BY run_id")).all())
    lines = [line for line in printed.splitlines() if line.startswith("replicate ")]
    assert counted[recorded[0]["id"]] == len(listed_ids("2023-10-04"))
    assert [line.endswith(f"  {counted[run['id']]} counter values recorded") for run, line in zip(recorded, lines)] == [True, True]
    old, new = listed_ids("2023-10-04"), listed_ids("2023-11-07")
    assert [(run["status"], run["models_seen"]) for run in recorded] == [("complete", len(old)), ("complete", len(new))]
    assert recorded[1]["stats"]["downloader/request_count"] == 2  # the first page and its cursor page
    assert {model["model_id"] for model in cli_json("models", "replicate", "--as-of", "2023-10-04", db=db_url)} == old
    diff = cli_json("diff", "replicate", "--from", "2023-10-04", "--to", "2023-11-07", db=db_url)
    assert set(diff["added"]) == new - old
    changed = {change["model_id"] for change in diff["changed"]}
    assert changed and changed <= old & new and "stability-ai/sdxl" in changed
    # the listing can drift: a model missing once is absent, not yet removed
    assert diff["removed"] == [] and recorded[1]["absent"] == len(old - new)


def test_with_removals_confirmed_at_once_the_second_date_shows_the_models_gone(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    config = write_config(tmp_path / "storewatch.toml", {"replicate": {"confirm_removals": 1}})
    dates = [str(snapshot_dir("replicate", date)) for date in ("2023-10-04", "2023-11-07")]
    run_cli("crawl", "replicate", "--replay", dates[0], "--replay", dates[1], "--config", str(config), db=db, env={"REPLICATE_API_TOKEN": "x"})
    diff = cli_json("diff", "replicate", "--from", "2023-10-04", "--to", "2023-11-07", db=db)
    assert set(diff["removed"]) == listed_ids("2023-10-04") - listed_ids("2023-11-07")
    assert diff["added"] and diff["changed"]


def test_a_live_crawl_without_a_token_is_refused_in_one_line_and_records_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    result = run_cli("crawl", "replicate", db=db, check=False, env={**NO_NETWORK, "REPLICATE_API_TOKEN": " "})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: replicate needs an API token: set REPLICATE_API_TOKEN (nothing was crawled)"
    assert cli_json("runs", "--store", "replicate", db=db) == []


def test_a_replay_needs_no_token(tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli("crawl", "replicate", "--replay", str(snapshot_dir("replicate", "2023-10-04")), db=db)
    assert [run["status"] for run in cli_json("runs", "--store", "replicate", db=db)] == ["complete"]


def test_the_scheduler_skips_replicate_with_a_note_while_no_token_is_set(start, tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    for key, value in NO_NETWORK.items():
        monkeypatch.setenv(key, value)
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    config = write_config(tmp_path / "storewatch.toml", {"replicate": {"every": "1s"}})
    scheduler = start(config, db, "no-token")
    note = "replicate: skipped: replicate needs an API token: set REPLICATE_API_TOKEN"
    wait_until(lambda: scheduler.log().count(note) >= 2, 30, "two skipped runs")
    assert runs(open_database(db)) == []  # skipped, never a failed run to retry
    assert scheduler.stop() == 0
    assert not re.search(r"Traceback|ERROR", scheduler.log())
