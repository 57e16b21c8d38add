"""Kaggle Models: extraction from the reconstructed answers in both value forms, the pageToken listing, the
10,000-result cap split, the credentials a live crawl needs, 429s, and replayed runs end to end."""

from __future__ import annotations

import base64
import json
import shutil
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from storage.db import open_database
from test_scheduler import runs, start, wait_until, write_config  # noqa: F401 -- `start` is a fixture
from crawler.accounting import MalformedListing, UnreadablePage
from crawler.middlewares import StoreAuthMiddleware
from spiders.kaggle_models import (
    CAPPED_QUERIES,
    LISTING_REPEATS,
    STORE,
    KaggleModelsSpider,
    Query,
    extract_record,
    kaggle_credentials,
    listing_page,
    listing_url,
)

FIXTURES = ROOT / "tests" / "fixtures" / "kaggle_models"
API = "www.kaggle.com/api/v1/models"
FIRST, LATER = "2024-06-02", "2026-01-14"
NO_NETWORK = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


def answer(date: str, model_id: str) -> dict:
    return json.loads((snapshot_dir("kaggle_models", date) / API / model_id / "get").read_text())


def listing_pages(date: str) -> list[dict]:
    """The snapshot's listing pages, first page first (the token pages sort after it)."""
    return [json.loads(path.read_text()) for path in sorted((snapshot_dir("kaggle_models", date) / API).glob("list?*"))]


def listed_ids(date: str) -> set[str]:
    return {model["ref"] for page in listing_pages(date) for model in page["models"]}


# -- extraction --------------------------------------------------------------------------------------------


def test_a_get_answer_maps_onto_elements():
    record = extract_record(answer(FIRST, "tensorflow/ssd-mobilenet-v1"))
    assert record.model_id == "tensorflow/ssd-mobilenet-v1"
    elements = record.elements
    assert (elements["name"], elements["provider"]) == ("ssd_mobilenet_v1", "TensorFlow")  # title and author, not slugs
    assert elements["version"] == "tensorFlow2/fpn-640x640 1, tfJs/default 1, tfLite/default 1, tfLite/metadata 2"
    assert elements["framework"] == ["tensorFlow2", "tfJs", "tfLite"]
    assert elements["access"]["downloads"]["tfLite/metadata"] == "https://www.kaggle.com/models/tensorflow/ssd-mobilenet-v1/TfLite/metadata/2/download"
    assert elements["access"]["private"] is False
    assert (elements["license"], elements["training_data"]) == ("Apache 2.0", ["COCO 2017"])
    assert elements["paper"] == ["https://arxiv.org/abs/1512.02325"]
    assert elements["published_at"] == "2023-11-15T17:04:51Z"
    assert "updated_at" not in elements and record.counters == {}  # the 2024 answer has neither updateTime nor voteCount
    assert set(elements) <= set(STORE.elements)


def test_the_servers_form_and_the_sdks_form_of_one_answer_read_the_same():
    server = json.loads((FIXTURES / "tensorflow_ssd-mobilenet-v1_server_form.json").read_text())
    sdk = json.loads((FIXTURES / "tensorflow_ssd-mobilenet-v1_sdk_form.json").read_text())
    assert server["instances"][0]["framework"] == "tensorFlow2" and sdk["instances"][0]["framework"] == "MODEL_FRAMEWORK_TENSOR_FLOW_2"
    assert server["instances"][0]["externalBaseModelUrl"] == "" and "externalBaseModelUrl" not in sdk["instances"][0]
    assert server != sdk
    one, other = extract_record(server), extract_record(sdk)
    assert (one.elements, one.raw) == (other.elements, other.raw)


def test_a_vote_is_a_counter_and_opens_no_version():
    model = answer(LATER, "google/movenet")
    before, after = extract_record(model), extract_record({**model, "voteCount": model["voteCount"] + 5})
    assert (before.elements, before.raw) == (after.elements, after.raw)
    assert after.counters == {"votes": model["voteCount"] + 5} and before.elements["popularity"] == ["votes"]
    assert extract_record({**model, "downloadCount": 1200}).counters["downloads"] == 1200  # while the API carried it
    with pytest.raises(UnreadablePage, match="voteCount is 'many'"):
        extract_record({**model, "voteCount": "many"})


def test_derived_variations_name_their_base_models():
    found = {}
    for date in (FIRST, LATER):
        for model_id in listed_ids(date):
            bases = extract_record(answer(date, model_id)).elements.get("base_models")
            if bases:
                found.update({base["relation"]: base["id"] for base in bases})
    assert found == {"kaggleVariant": "google/gemma/keras/gemma_2b_en", "externalVariant": "https://huggingface.co/distilbert/distilbert-base-uncased"}


def test_every_model_of_both_snapshots_extracts_with_the_required_elements():
    for date in (FIRST, LATER):
        for model_id in listed_ids(date):
            record = extract_record(answer(date, model_id), expected=model_id)
            assert all(record.elements.get(key) for key in STORE.required_elements), model_id


def test_an_answer_for_another_model_or_without_a_ref_is_unreadable():
    model = answer(FIRST, "google/movenet")
    with pytest.raises(UnreadablePage, match="asked for google/yamnet, the answer is google/movenet"):
        extract_record(model, expected="google/yamnet")
    with pytest.raises(UnreadablePage, match="without a `ref`"):
        extract_record({**model, "ref": "movenet"})
    with pytest.raises(UnreadablePage, match="not an object"):
        extract_record({**model, "instances": ["singlepose-lightning"]})


def test_a_page_of_another_shape_is_not_the_listing():
    assert listing_page({}) == ([], None, 0)  # kagglesdk leaves out every default: an empty last page
    for page in ([], {"code": 401, "message": "Unauthenticated"}, {"models": {}}, {"models": [], "nextPageToken": 7}):
        with pytest.raises(MalformedListing):
            listing_page(page)


# -- the spider ---------------------------------------------------------------------------------------------


def spider(result_cap: int | None = None) -> KaggleModelsSpider:
    crawler = get_crawler(KaggleModelsSpider)
    spider = KaggleModelsSpider.from_crawler(crawler)
    if result_cap:
        spider.result_cap = result_cap
    return spider


def parse(spider: KaggleModelsSpider, query: Query, page: dict, first: bool = True, pages: list | None = None) -> tuple[list[str], list[Query]]:
    """The model ids the page's requests ask `get` for, and the queries whose first pages it asks for; the
    URLs of the further pages it asks for are appended to `pages`."""
    url = listing_url(query)
    response = TextResponse(url, body=json.dumps(page).encode(), encoding="utf-8", request=Request(url))
    requests = list(spider.parse_listing(response, query, first))
    models = [request.meta["model_id"] for request in requests if "model_id" in request.meta]
    queries = [request.cb_kwargs["query"] for request in requests if request.cb_kwargs.get("first")]
    if pages is not None:
        pages += [request.url for request in requests if request.meta.get("listing") and not request.cb_kwargs.get("first")]
    return models, queries


def test_pages_are_followed_through_their_token_and_each_model_is_asked_for_once():
    first, second = listing_pages(FIRST)
    crawl, following = spider(), []
    models, _ = parse(crawl, Query("createTime"), first, pages=following)
    assert following == ["https://www.kaggle.com/api/v1/models/list?sortBy=createTime&pageSize=100&pageToken=CAIQ100aBc20240602"]
    assert len(models) == 100
    drifted = {**second, "models": [first["models"][0], *second["models"]]}  # a model pushed onto the next page
    models, _ = parse(crawl, Query("createTime"), drifted, first=False, pages=following)
    assert len(models) == len(second["models"]) and len(following) == 1  # the last page names no next one
    assert crawl.crawler.stats.get_value(LISTING_REPEATS) == 1


def test_a_token_that_leads_back_is_a_listing_failure_not_the_end_of_the_store():
    first, second = listing_pages(FIRST)
    crawl = spider()
    parse(crawl, Query("createTime"), first)
    parse(crawl, Query("createTime"), {**second, "nextPageToken": first["nextPageToken"]}, first=False)
    assert crawl.crawler.stats.get_value("storewatch/listing_failures") == 1


def test_a_capped_listing_is_split_by_sort_order_and_by_owner():
    """With the cap at 3: the whole-store query is capped, so the other sort orders list it again and each owner
    met gets a query of its own; an owner whose own query is capped is listed under every order, and the run
    is partial; a model met in several queries is asked for once."""
    crawl = spider(result_cap=3)
    models = [{"ref": ref} for ref in ("google/movenet", "google/yamnet", "tensorflow/bert")]
    asked, queries = parse(crawl, Query("createTime"), {"models": models, "nextPageToken": "t1", "totalResults": 3})
    assert asked == ["google/movenet", "google/yamnet", "tensorflow/bert"]
    assert set(queries) == {Query(sort) for sort in ("hotness", "downloadCount", "voteCount", "notebookCount")} | {
        Query("createTime", "google"), Query("createTime", "tensorflow")}
    assert crawl.crawler.stats.get_value(CAPPED_QUERIES) == 1

    asked, queries = parse(crawl, Query("voteCount"), {"models": [{"ref": "keras/bert"}, {"ref": "google/yamnet"}], "totalResults": 3})
    assert (asked, queries) == (["keras/bert"], [Query("createTime", "keras")])  # a new owner met under another order

    asked, queries = parse(crawl, Query("createTime", "google"), {"models": [{"ref": "google/gemma"}, *models[:2]], "totalResults": 3})
    assert asked == ["google/gemma"] and set(queries) == {Query(sort, "google") for sort in ("hotness", "downloadCount", "voteCount", "notebookCount")}
    assert crawl.crawler.stats.get_value("storewatch/listing_failures") == 1  # google may have more than any query lists

    asked, queries = parse(spider(result_cap=3), Query("createTime"), {"models": models[:2], "totalResults": 2})
    assert len(asked) == 2 and queries == []  # under the cap: one query reaches every model


def test_a_listing_entry_without_a_ref_removes_nothing():
    crawl = spider()
    asked, _ = parse(crawl, Query("createTime"), {"models": [{"ref": "google/movenet"}, {"title": "no ref"}], "totalResults": 2})
    assert asked == ["google/movenet"] and crawl.crawler.stats.get_value("storewatch/listing_failures") == 1


# -- credentials ----------------------------------------------------------------------------------------------


def test_credentials_come_from_the_token_then_the_access_token_file_then_kaggle_json(tmp_path):
    folder = tmp_path / ".kaggle"
    folder.mkdir()
    environ = {"HOME": str(tmp_path)}
    assert kaggle_credentials(environ) is None
    (folder / "kaggle.json").write_text(json.dumps({"username": "ada", "key": "k3y"}))
    assert kaggle_credentials(environ) == "Basic " + base64.b64encode(b"ada:k3y").decode()
    (folder / "access_token").write_text("KGAT_file\n")
    assert kaggle_credentials(environ) == "Bearer KGAT_file"
    assert kaggle_credentials({**environ, "KAGGLE_API_TOKEN": "KGAT_env"}) == "Bearer KGAT_env"
    elsewhere = tmp_path / "config"
    elsewhere.mkdir()
    (elsewhere / "kaggle.json").write_text('{"username": "ada"}')  # no key: no credentials
    assert kaggle_credentials({**environ, "KAGGLE_CONFIG_DIR": str(elsewhere)}) is None


def test_credentials_go_to_kaggles_hosts_only(monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_secret")
    middleware = StoreAuthMiddleware(SimpleNamespace(spider=SimpleNamespace(store_config=STORE)))
    for url, expected in (
        (listing_url(Query("createTime")), b"Bearer KGAT_secret"),
        ("https://api.kaggle.com/v1/models.ModelApiService/ListModels", b"Bearer KGAT_secret"),
        ("https://storage.googleapis.com/kaggle-models-data/1/2.tar.gz", None),
        ("https://www.kaggle.com.evil.example/api/v1/models/list", None),
    ):
        request = Request(url)
        middleware.process_request(request)
        assert request.headers.get("Authorization") == expected


def test_a_live_crawl_without_credentials_is_refused_in_one_line_and_records_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    env = {**NO_NETWORK, "HOME": str(tmp_path), "KAGGLE_API_TOKEN": "", "KAGGLE_CONFIG_DIR": ""}
    result = run_cli("crawl", "kaggle_models", db=db, check=False, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: kaggle_models needs an API token: set KAGGLE_API_TOKEN, or write ~/.kaggle/access_token or ~/.kaggle/kaggle.json"
        " (nothing was crawled)"
    )
    assert cli_json("runs", "--store", "kaggle_models", db=db) == []


def test_the_scheduler_skips_the_store_with_a_note_while_no_credentials_exist(start, tmp_path, monkeypatch):  # noqa: F811 -- the fixture
    for key in ("KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**NO_NETWORK, "HOME": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    scheduler = start(write_config(tmp_path / "storewatch.toml", {"kaggle_models": {"every": "1s"}}), db, "no-credentials")
    note = "kaggle_models: skipped: kaggle_models needs an API token: set KAGGLE_API_TOKEN"
    wait_until(lambda: scheduler.log().count(note) >= 2, 30, "two skipped runs")
    assert runs(open_database(db)) == []  # skipped, never a failed run to retry
    assert scheduler.stop() == 0


# -- end to end -------------------------------------------------------------------------------------------------


def test_replayed_snapshots_record_complete_runs_and_the_diff_between_them(db_url):
    first, later = snapshot_dir("kaggle_models", FIRST), snapshot_dir("kaggle_models", LATER)
    run_cli("crawl", "kaggle_models", "--replay", str(first), "--replay", str(later), db=db_url)
    runs = cli_json("runs", "--store", "kaggle_models", db=db_url)
    old, new = listed_ids(FIRST), listed_ids(LATER)
    assert [(run["status"], run["models_seen"], run["errors"]) for run in runs] == [("complete", len(old), 0), ("complete", len(new), 0)]
    assert runs[0]["stats"]["downloader/request_count"] == 2 + len(old)  # two listing pages, a `get` per model
    diff = cli_json("diff", "kaggle_models", "--from", FIRST, "--to", LATER, db=db_url)
    assert set(diff["added"]) == new - old and "google/gemma-3" in diff["added"]
    changes = {change["model_id"]: change for change in diff["changed"]}
    assert "version" in changes["google/movenet"]["elements"] and "version" in changes["keras/bert"]["elements"]
    assert "version" not in changes["tensorflow/bert"]["elements"]  # only the fields the API grew
    assert diff["removed"] == [] and runs[1]["absent"] == len(old - new) == 3  # the listing can drift: absent, not yet removed
    movenet = {model["model_id"]: model for model in cli_json("models", "kaggle_models", db=db_url)}["google/movenet"]
    assert "tensorFlow2/multipose-lightning 1" in movenet["version"].split(", ")
    assert [row["metric"] for row in cli_json("metrics", "kaggle_models", "google/movenet", db=db_url)] == ["votes"]


def test_a_429_on_the_listing_waits_and_asks_again(db_url, tmp_path):
    snapshot = tmp_path / FIRST
    shutil.copytree(snapshot_dir("kaggle_models", FIRST), snapshot)
    page = snapshot / API / "list?sortBy=createTime&pageSize=100"
    refusal = {"status": 429, "headers": {"Retry-After": "2"}, "body": '{"code":429,"message":"Too many requests"}'}
    page.with_name(page.name + ".meta.json").write_text(json.dumps({"first": [refusal]}))
    run_cli("crawl", "kaggle_models", "--replay", str(snapshot), db=db_url)
    (run,) = cli_json("runs", "--store", "kaggle_models", db=db_url)
    assert (run["status"], run["models_seen"]) == ("complete", len(listed_ids(FIRST)))
    assert run["stats"]["downloader/response_status_count/429"] == 1

