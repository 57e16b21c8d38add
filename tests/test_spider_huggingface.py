"""Hugging Face Hub: extraction of real API records and dump rows, the listing crawl, rate limits, token, scope."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response

from conftest import cli_json, run_cli, snapshot_dir
from crawler.accounting import UnreadablePage
from crawler.backoff import BackoffMiddleware, asked_wait, backoff_delay
from crawler.middlewares import StoreAuthMiddleware
from crawler.replay_server import ReplayHandler
from spiders.huggingface import LISTING_URL, STORE, HuggingfaceSpider, extract_record, listing_url, next_page

RECORDS = Path(__file__).parent / "data" / "huggingface"


def saved(name: str) -> dict:
    return json.loads((RECORDS / name).read_text())


def test_a_full_api_record_maps_onto_the_elements():
    record = extract_record(saved("zephyr-7b-beta_2025-03-21.json"))
    elements = record.elements
    assert record.model_id == "HuggingFaceH4/zephyr-7b-beta"
    assert (elements["name"], elements["provider"], elements["task"]) == ("zephyr-7b-beta", "HuggingFaceH4", "text-generation")
    assert elements["license"] == "mit"
    assert elements["training_data"] == ["HuggingFaceH4/ultrachat_200k", "HuggingFaceH4/ultrafeedback_binarized"]
    assert "arxiv:2305.18290" in elements["paper"]
    assert elements["base_models"] == [{"id": "mistralai/Mistral-7B-v0.1", "relation": "finetune"}]
    assert elements["architecture"] == {"architectures": ["MistralForCausalLM"], "model_type": "mistral"}
    assert elements["size"] == {"parameters": 7241732096}
    assert elements["published_at"] == "2023-10-26T11:25:49Z"
    assert elements["version"] == "892b3d7a7b1cf10c7a701c60881cd93df615734c"
    assert elements["evaluation"][0]["name"] == "zephyr-7b-beta"
    assert elements["access"] == {"gated": False, "auto_model": "AutoModelForCausalLM", "processor": "AutoTokenizer"}
    assert not any(tag.startswith(("arxiv:", "dataset:", "license:", "base_model:")) for tag in elements["keywords"])


def test_counters_leave_raw_and_elements_so_a_tick_changes_neither():
    entry = saved("zephyr-7b-beta_2025-03-21.json")
    record = extract_record(entry)
    assert record.counters == {"downloads": entry["downloads"], "likes": entry["likes"]}
    assert "downloads" not in record.raw and "likes" not in record.raw
    assert record.elements["popularity"] == ["downloads", "likes"]
    ticked = extract_record({**entry, "downloads": entry["downloads"] + 1000, "likes": entry["likes"] + 1})
    assert (ticked.elements, ticked.raw) == (record.elements, record.raw)
    assert ticked.counters != record.counters


def test_every_counter_a_dump_carries_is_a_counter_and_a_count_that_is_no_number_is_unreadable():
    row = {"id": "org/model", "downloads": 10, "downloadsAllTime": 900, "likes": 2, "trendingScore": 0.5, "tags": []}
    record = extract_record(row)
    assert record.counters == {"downloads": 10, "downloads_all_time": 900, "likes": 2, "trending_score": 0.5}
    assert extract_record({**row, "downloadsAllTime": 950}).raw == record.raw  # a tick: the same record
    with pytest.raises(UnreadablePage, match="downloads is 'n/a'"):
        extract_record({**row, "downloads": "n/a"})


def test_the_placeholder_creation_date_is_no_publication_date():
    record = extract_record(saved("bert-base-uncased_2025-01-22.json"))
    assert saved("bert-base-uncased_2025-01-22.json")["createdAt"] == "2022-03-02T23:29:04.000Z"
    assert "published_at" not in record.elements
    assert record.elements["updated_at"].startswith("20")


def test_gated_model_says_so_in_access():
    record = extract_record(saved("Llama-3.1-8B-Instruct_2025-03-21.json"))
    assert record.elements["access"]["gated"] == "manual"
    # the tags name the resolved base model; the card still says its old name
    assert record.elements["base_models"] == [{"id": "meta-llama/Llama-3.1-8B", "relation": "finetune"}]


def test_a_dump_row_with_card_data_as_json_text():
    rows = saved("hub_stats_rows.json")
    merge = next(row["row"] for row in rows if (row["row"].get("baseModels") or {}).get("relation") == "merge")
    record = extract_record(merge)
    assert [base["relation"] for base in record.elements["base_models"]] == ["merge"] * len(merge["baseModels"]["models"])
    assert isinstance(record.raw["cardData"], dict)
    assert record.counters["trending_score"] == merge["trendingScore"]
    empty_card = extract_record(next(row["row"] for row in rows if row["row"]["cardData"] == "{}"))
    assert empty_card.raw["cardData"] == {}
    assert empty_card.elements["paper"] == ["arxiv:2304.06767"]
    assert empty_card.elements["published_at"] == "2024-02-28T15:24:14Z"  # the same instant form as the API's


def test_listing_url_scopes_and_next_link():
    whole = listing_url({})
    assert "sort=createdAt" in whole and "limit=1000" in whole and "expand%5B%5D=baseModels" in whole
    top = listing_url({"max_models": 50, "author": "google", "library": "gguf"})
    assert "sort=downloads" in top and "limit=50" in top and "author=google" in top and "filter=gguf" in top
    assert next_page('<https://huggingface.co/api/models?cursor=abc>; rel="next"') == "https://huggingface.co/api/models?cursor=abc"
    assert next_page(None) is None


def test_only_the_whole_hub_may_remove_models():
    from scrapy.utils.test import get_crawler

    from spiders.huggingface import HuggingfaceSpider

    def spider(scope):
        return HuggingfaceSpider.from_crawler(get_crawler(HuggingfaceSpider, settings_dict={"STOREWATCH_SCOPE": scope}))

    assert spider({}).lists_whole_store and spider({"author": "google"}).lists_whole_store
    assert not spider({"max_models": 100}).lists_whole_store  # the top 100 by downloads: a model may only have dropped out


def test_rate_limit_headers_set_the_wait():
    assert asked_wait('"api";r=0;t=123', None) == 123
    assert asked_wait(None, "30") == 30
    assert asked_wait(None, "Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert backoff_delay(0, 60, asked_wait('"api";r=0;t=123', "5"), 900) == 123


def test_replay_server_answers_a_recorded_429_once_then_the_page(tmp_path):
    handler = ReplayHandler(snapshot_dir("huggingface", "2025-03-21"))
    meta_files = sorted((snapshot_dir("huggingface", "2025-03-21") / "huggingface.co" / "api").glob("*.meta.json"))
    refused = next(json.loads(path.read_text()) for path in meta_files if "first" in json.loads(path.read_text()))
    target = "/" + refused["url"].removeprefix("https://")
    first, second = handler.respond("GET", target), handler.respond("GET", target)
    assert first.status == 429 and ("RateLimit", '"api";r=0;t=123') in first.headers
    assert second.status == 200 and any(name == "Link" for name, _ in second.headers)
    assert json.loads(second.body)[0]["id"]


def test_token_goes_to_huggingface_co_only(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    crawler = SimpleNamespace(spider=SimpleNamespace(store_config=STORE))
    sent = {}
    for url in ("https://huggingface.co/api/models", "https://cdn-lfs.huggingface.co/x", "https://huggingface.co.evil.example/api"):
        request = Request(url)
        StoreAuthMiddleware(crawler).process_request(request)
        sent[url] = request.headers.get("Authorization")
    assert list(sent.values()) == [b"Bearer hf_secret", None, None]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    db = f"sqlite:///{tmp_path_factory.mktemp('hf') / 'sw.db'}"
    days = [str(snapshot_dir("huggingface", date)) for date in ("2024-04-09", "2025-01-22", "2025-03-21")]
    result = run_cli("crawl", "huggingface", *[arg for day in days for arg in ("--replay", day)], "-v", db=db,
                     env={"HF_TOKEN": "hf_never_logged"})
    return db, result


def test_replayed_crawl_records_complete_runs_with_every_model(crawled):
    db, _ = crawled
    runs = cli_json("runs", "--store", "huggingface", db=db)
    assert [run["status"] for run in runs] == ["complete"] * 3
    expected = [json.loads((snapshot_dir("huggingface", date) / "SNAPSHOT.json").read_text())["models"] for date in ("2024-04-09", "2025-01-22", "2025-03-21")]
    assert [run["stats"]["storewatch/models_staged"] for run in runs] == expected
    last = runs[-1]["stats"]
    assert last["storewatch/backoff_count"] == 1 and last["downloader/response_status_count/429"] == 1
    assert last["storewatch/duplicate_ids"] == 1
    models = {model["model_id"] for model in cli_json("models", "huggingface", db=db)}
    assert len(models) == expected[-1] and "HuggingFaceH4/zephyr-7b-beta" in models


def test_the_token_never_reaches_the_log(crawled):
    _, result = crawled
    assert "hf_never_logged" not in result.stdout + result.stderr
    assert "pausing the crawl" in result.stderr  # the log was on: the 429 shows, the token does not


def test_a_listing_page_that_is_not_a_list_is_no_complete_run(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    result = run_cli(
        "crawl", "huggingface", "--replay", str(snapshot_dir("huggingface", "2025-03-21")),
        "--fail", "*cursor=*=json:{\"error\": \"Internal Error\"}", db=db, check=False,
    )
    assert result.returncode == 1
    assert [run["status"] for run in cli_json("runs", "--store", "huggingface", db=db)] == ["suspect"]


def test_an_entry_without_an_id_makes_the_run_partial(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli("crawl", "huggingface", "--replay", str(snapshot_dir("huggingface", "2024-04-09")),
            "--fail", "*cursor=*=json:[{\"author\": \"nobody\"}]", db=db)
    assert [run["status"] for run in cli_json("runs", "--store", "huggingface", db=db)] == ["partial"]


def test_scope_from_storewatch_toml_reaches_the_crawl(tmp_path):
    from crawler.schedule_config import load_config
    from crawler.stores import known_stores

    config = tmp_path / "storewatch.toml"
    config.write_text('[stores.huggingface]\nauthor = "google"\nmax_models = 2\n')
    assert load_config(config, known_stores=known_stores()).scopes["huggingface"] == {"author": "google", "max_models": 2}
    config.write_text('[stores.onnx_zoo]\nauthor = "google"\n')
    bad = run_cli("crawl", "onnx_zoo", "--config", str(config), check=False)
    assert bad.returncode != 0 and "unknown setting 'author'" in bad.stderr and "Traceback" not in bad.stderr


def test_a_repeat_on_the_next_page_is_counted_a_repeat_further_on_is_left_to_the_writer():
    from scrapy.utils.test import get_crawler

    from spiders.huggingface import HuggingfaceSpider

    crawler = get_crawler(HuggingfaceSpider)
    crawler.stats.open_spider()
    spider = HuggingfaceSpider.from_crawler(crawler)
    entry = saved("bert-base-uncased_2025-01-22.json")
    page = lambda *ids: [{**entry, "id": model_id} for model_id in ids]  # noqa: E731
    listed = [[record.model_id for record in spider.page_records(page(*ids))] for ids in (("a/x", "a/y", "a/x"), ("a/y", "a/z"), ("a/w",), ("a/x",))]
    assert listed == [["a/x", "a/y"], ["a/z"], ["a/w"], ["a/x"]]
    assert crawler.stats.get_value("storewatch/duplicate_ids") == 2


def test_a_nearly_used_up_rate_limit_window_paces_the_crawl_before_any_429():
    from types import SimpleNamespace

    from scrapy.utils.test import get_crawler

    crawler = get_crawler(HuggingfaceSpider)
    assert "crawler.backoff.BackoffMiddleware" in crawler.settings.getdict("DOWNLOADER_MIDDLEWARES")
    paused = []
    crawler.engine = SimpleNamespace(pause=lambda: paused.append("pause"), unpause=lambda: paused.append("go on"))
    middleware = BackoffMiddleware.from_crawler(crawler)  # the Hub's delay: 0.75 s a request

    def answer(ratelimit):
        page = Response(LISTING_URL, status=200, headers={"RateLimit": ratelimit}, body=b"[]")
        return asyncio.run(middleware.process_response(Request(LISTING_URL), page))

    assert answer('"api";r=400;t=300') is not None and paused == []  # 400 requests in 300 s: the delay is enough
    answer('"api";r=0;t=1')  # none left: wait for the window to reset rather than be refused
    answer('"api";r=1;t=1')  # one left for a second: 0.25 s more than the delay
    assert paused == ["pause", "go on"] * 2
    assert crawler.stats.get_value("storewatch/ratelimit_paced_count") == 2
    assert crawler.stats.get_value("storewatch/ratelimit_paced_seconds") == 1.25
