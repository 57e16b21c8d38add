"""Junk that answers 200 is unreadable, never a verdict: each spider's listing and model callbacks on real
recorded answers, on those answers broken (empty, an HTML page, cut short, the wrong document), and on the
pages each store itself marks as not a model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.test import get_crawler

from conftest import snapshot_dir, snapshot_dirs
from crawler.accounting import UnreadablePage, error_count, run_status
from crawler.items import ModelRecord, UnreadableModel
from crawler.middlewares import RunAccountingMiddleware
from crawler.pipelines import checked_record
from crawler.replay_server import content_type
from spiders import aws_marketplace, kaggle_models, onnx_zoo, pytorch_hub, tfhub, wolfram_nnr

PYTORCH_TREE = "api.github.com/repos/pytorch/hub/git/trees/master"
PYTORCH_RAW = "raw.githubusercontent.com/pytorch/hub/master"
TFHUB_TREE = "api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"
TFHUB_RAW = "raw.githubusercontent.com/tensorflow/tfhub.dev/master"
ONNX_MANIFEST = "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
WOLFRAM_SEARCH = wolfram_nnr.SEARCH_URL.removeprefix("https://")
WOLFRAM_PAGES = "resources.wolframcloud.com/NeuralNetRepository/resources"
AWS_SITEMAP = "aws.amazon.com/marketplace/sitemap"
AWS_PAGES = "aws.amazon.com/marketplace/pp"
KAGGLE_API = "www.kaggle.com/api/v1/models"
KAGGLE_LISTING = f"{KAGGLE_API}/list?sortBy=createTime&pageSize=100"
RESNET = "pytorch_vision_resnet.md"
MOBILENET = "google/imagenet/mobilenet_v2_100_224/classification"
LENET = "LeNet-Trained-on-MNIST-Data"

# Real answers of one store, used as the wrong document for another.
AN_HTML_PAGE = (snapshot_dir("modeldepot", "wayback") / "web.archive.org/web/20180615083012id_/https:/modeldepot.io/browse").read_bytes()
A_JSON_LIST = (snapshot_dir("onnx_zoo", "2021-08-20") / ONNX_MANIFEST).read_bytes()
A_JSON_OBJECT = (snapshot_dir("pytorch_hub", "2019-06-30") / PYTORCH_TREE).read_bytes()
A_MARKDOWN_PAGE = (snapshot_dir("pytorch_hub", "2024-04-30") / PYTORCH_RAW / RESNET).read_bytes()
TFHUB_TREE_ENTRIES = json.dumps(json.loads((snapshot_dir("tfhub", "2020-12-31") / TFHUB_TREE).read_text())["tree"]).encode()
JUNK = ("empty", "html", "truncated", "wrong")
SCRATCH_STATS = get_crawler().stats  # where assert_readable counts the failures it asserts there are none of


def spider_of(spider_class):
    crawler = get_crawler(spider_class)
    crawler.spider = spider_class.from_crawler(crawler)
    return crawler.spider


def answer(url: str, body: bytes, kind: str | None = None, **meta):
    """A 200 answer for `url`, typed as Scrapy types it from its Content-Type (`kind`)."""
    headers = Headers({"Content-Type": kind} if kind else {})
    response_class = responsetypes.from_args(headers=headers, url=url, body=body)
    return response_class(url=url, status=200, headers=headers, body=body, request=Request(url, meta=meta))


def replayed(path: Path, url: str, **meta):
    """A recorded file as the replay server answers it (crawler/replay_server.py picks the Content-Type)."""
    body = path.read_bytes()
    return answer(url, body, content_type(path, body), **meta)


def crawl_one(callback, response, **cb_kwargs) -> tuple[list, str, int]:
    """What a crawl makes of one answer: the callback's output (or, when it raises, what the run accounting
    makes of the exception), then the run's status and error count so far."""
    crawler = callback.__self__.crawler
    accounting = RunAccountingMiddleware.from_crawler(crawler)
    accounting.process_spider_input(response)
    try:
        output = list(callback(response, **cb_kwargs))
    except Exception as error:  # noqa: BLE001 -- the middleware decides, as in a crawl
        output = accounting.process_spider_exception(response, error)
    stats = crawler.stats.get_stats()
    return output, run_status(stats, "finished"), error_count(stats)


def junk_variants(real: bytes, cut: int, wrong: bytes) -> dict[str, tuple[bytes, str | None]]:
    """A real answer broken the ways live servers break one: (body, Content-Type) by junk class."""
    return {
        "empty": (b"", None),
        "html": (AN_HTML_PAGE, "text/html; charset=utf-8"),
        "truncated": (real[:cut], None),
        "wrong": (wrong, None),
    }


def only_records(items: list) -> list[ModelRecord]:
    assert not [item for item in items if isinstance(item, UnreadableModel)], items
    return [item for item in items if isinstance(item, ModelRecord)]


def assert_readable(items: list, spider_class) -> None:
    """One record, which the store's required elements accept."""
    records = only_records(items)
    assert len(records) == 1
    checked = checked_record(records[0], spider_class.store_config.required_elements, SCRATCH_STATS)
    assert isinstance(checked, ModelRecord), checked


# -- listings -----------------------------------------------------------------------------------------------

# store -> (spider, listing callback, a recorded listing, its URL, the wrong document: another store's real one)
LISTINGS = {
    "pytorch_hub": (pytorch_hub.PytorchHubSpider, "parse_listing", snapshot_dir("pytorch_hub", "2024-04-30") / PYTORCH_TREE,
                    "https://" + PYTORCH_TREE, A_JSON_LIST),
    "tfhub": (tfhub.TfhubSpider, "parse_listing", snapshot_dir("tfhub", "2021-06-30") / TFHUB_TREE, "https://" + TFHUB_TREE, A_JSON_LIST),
    "onnx_zoo": (onnx_zoo.OnnxZooSpider, "parse_manifest", snapshot_dir("onnx_zoo", "2023-12-26") / ONNX_MANIFEST,
                 "https://" + ONNX_MANIFEST, A_JSON_OBJECT),
    "onnx_zoo, entries naming no model_path": (onnx_zoo.OnnxZooSpider, "parse_manifest", snapshot_dir("onnx_zoo", "2023-12-26") / ONNX_MANIFEST,
                                               "https://" + ONNX_MANIFEST, TFHUB_TREE_ENTRIES),
    "wolfram_nnr": (wolfram_nnr.WolframNnrSpider, "parse_listing", snapshot_dir("wolfram_nnr", "2024-06-01") / WOLFRAM_SEARCH,
                    wolfram_nnr.SEARCH_URL, A_JSON_OBJECT),
    "aws_marketplace": (aws_marketplace.AwsMarketplaceSpider, "parse_sitemap", snapshot_dir("aws_marketplace", "2026-08-20") / AWS_SITEMAP,
                        aws_marketplace.SITEMAP_URL, (snapshot_dir("wolfram_nnr", "2024-06-01") / WOLFRAM_SEARCH).read_bytes()),
    "kaggle_models": (kaggle_models.KaggleModelsSpider, "parse_listing", snapshot_dir("kaggle_models", "2026-01-14") / KAGGLE_LISTING,
                      "https://" + KAGGLE_LISTING, A_JSON_OBJECT),
}


@pytest.mark.parametrize("kind", JUNK)
@pytest.mark.parametrize("store", LISTINGS)
def test_listing_junk_makes_a_suspect_run_that_lists_nothing(store, kind):
    spider_class, callback, path, url, wrong = LISTINGS[store]
    real = path.read_bytes()
    body, declared = junk_variants(real, len(real) // 2, wrong)[kind]
    items, status, errors = crawl_one(getattr(spider_of(spider_class), callback), answer(url, body, declared, listing=True))
    assert (items, status, errors) == ([], "suspect", 1)
    real_items, real_status, _ = crawl_one(getattr(spider_of(spider_class), callback), replayed(path, url, listing=True))
    assert real_items and real_status == "complete"


# -- model pages --------------------------------------------------------------------------------------------


def tfhub_versions(date: str, handle: str) -> dict[int, str]:
    return tfhub.model_versions(json.loads((snapshot_dir("tfhub", date) / TFHUB_TREE).read_text()))[handle]


def wolfram_item(date: str, short_name: str) -> dict:
    resources = json.loads((snapshot_dir("wolfram_nnr", date) / WOLFRAM_SEARCH).read_text())["Resources"]
    return next(item for item in resources if item["ShortName"] == short_name)


def front_matter_as_a_list(page: bytes) -> bytes:
    return re.sub(rb"\A---\n.*?\n---\n", b"---\n- a list\n- not a mapping\n---\n", page, flags=re.DOTALL)


MOBILENET_DOC = tfhub_versions("2021-06-30", MOBILENET)[max(tfhub_versions("2021-06-30", MOBILENET))]

# store -> (spider, a recorded page, its URL, model_id, callback arguments, where to cut it, the wrong document)
MODEL_PAGES = {
    "pytorch_hub": (pytorch_hub.PytorchHubSpider, snapshot_dir("pytorch_hub", "2024-04-30") / PYTORCH_RAW / RESNET,
                    f"https://{PYTORCH_RAW}/{RESNET}", "pytorch_vision_resnet", {"path": RESNET},
                    lambda page: page.index(b"\n---\n", 3), front_matter_as_a_list),  # cut before the front matter closes
    "tfhub": (tfhub.TfhubSpider, snapshot_dir("tfhub", "2021-06-30") / TFHUB_RAW / MOBILENET_DOC, f"https://{TFHUB_RAW}/{MOBILENET_DOC}",
              MOBILENET, {"handle": MOBILENET, "versions": tfhub_versions("2021-06-30", MOBILENET)},
              lambda page: page.index(b"\n") + 1, lambda page: A_MARKDOWN_PAGE),  # only the title line left
    "wolfram_nnr": (wolfram_nnr.WolframNnrSpider, snapshot_dir("wolfram_nnr", "2024-06-01") / WOLFRAM_PAGES / LENET,
                    wolfram_nnr.RESOURCE_URL.format(LENET), LENET, {"item": wolfram_item("2024-06-01", LENET)},
                    lambda page: page.index(b'<section id="examples">'), lambda page: A_JSON_OBJECT),  # cut before the NetModel cell
    "kaggle_models": (kaggle_models.KaggleModelsSpider, snapshot_dir("kaggle_models", "2024-06-02") / KAGGLE_API / "google/movenet/get",
                      f"https://{KAGGLE_API}/google/movenet/get", "google/movenet", {"expected": "google/movenet"},
                      lambda page: page.index(b'"instances"'),  # cut before its variations
                      lambda page: (snapshot_dir("kaggle_models", "2024-06-02") / KAGGLE_API / "google/yamnet/get").read_bytes()),  # another model's
}


@pytest.mark.parametrize("kind", JUNK)
@pytest.mark.parametrize("store", MODEL_PAGES)
def test_model_page_junk_keeps_the_model_as_an_error_never_a_new_version(store, kind):
    spider_class, path, url, model_id, cb_kwargs, cut, wrong = MODEL_PAGES[store]
    real = path.read_bytes()
    body, declared = junk_variants(real, cut(real), wrong(real))[kind]
    spider = spider_of(spider_class)
    items, _, errors = crawl_one(spider.parse_model, answer(url, body, declared, model_id=model_id), **cb_kwargs)
    assert [(type(item), item.model_id) for item in items] == [(UnreadableModel, model_id)]  # present, content unknown
    assert errors == 1
    assert only_records(crawl_one(spider.parse_model, replayed(path, url, model_id=model_id), **cb_kwargs)[0])


def read_every_page(spider_class, directory: Path, listing: Path, url: str, callback: str = "parse_listing") -> list[list]:
    """What the crawl makes of each page a recorded listing names, from the recorded files."""
    spider = spider_of(spider_class)
    requests, status, _ = crawl_one(getattr(spider, callback), replayed(directory / listing, url, listing=True))
    assert status == "complete" and requests
    outputs = []
    for request in requests:
        path = directory / request.url.removeprefix("https://")
        outputs.append(crawl_one(request.callback, replayed(path, request.url, **request.meta), **request.cb_kwargs)[0])
    return outputs


# -- pytorch_hub --------------------------------------------------------------------------------------------


def test_pytorch_repository_docs_are_never_requested_and_unreadable_as_pages():
    tree = json.loads((snapshot_dir("pytorch_hub", "2019-06-30") / PYTORCH_TREE).read_text())
    tree["tree"] += [{"path": f"{name}.md", "type": "blob"} for name in ("SECURITY", "LICENSE", "CODE_OF_CONDUCT")]
    assert not [path for path in pytorch_hub.model_files(tree) if path[0].isupper()]
    readme = (snapshot_dir("pytorch_hub", "2019-06-30") / PYTORCH_RAW / "README.md").read_text()
    with pytest.raises(UnreadablePage, match="no Jekyll front matter"):
        pytorch_hub.extract_model("README.md", readme)


def test_pytorch_page_whose_layout_is_another_page_kind_is_not_a_model():
    real = A_MARKDOWN_PAGE.decode()
    assert pytorch_hub.extract_model(RESNET, real.replace("layout: hub_detail", "layout: pytorch_hub_detail"))
    assert pytorch_hub.extract_model(RESNET, real.replace("layout: hub_detail", "layout: post")) is None
    with pytest.raises(UnreadablePage, match="names no layout"):
        pytorch_hub.extract_model(RESNET, real.replace("layout: hub_detail\n", ""))


@pytest.mark.parametrize("directory", snapshot_dirs("pytorch_hub"), ids=lambda path: path.name)
def test_every_recorded_pytorch_page_is_read(directory):
    for items in read_every_page(pytorch_hub.PytorchHubSpider, directory, PYTORCH_TREE, "https://" + PYTORCH_TREE):
        assert_readable(items, pytorch_hub.PytorchHubSpider)


# -- tfhub --------------------------------------------------------------------------------------------------


def test_tfhub_doc_titled_as_a_publisher_or_collection_is_not_a_model():
    versions = tfhub_versions("2021-06-30", MOBILENET)
    real = (snapshot_dir("tfhub", "2021-06-30") / TFHUB_RAW / MOBILENET_DOC).read_text()
    first_line = real.splitlines()[0]
    for title in ("# Collection google/imagenet-classifiers/1", "# Publisher google"):
        assert tfhub.extract_model(MOBILENET, versions, real.replace(first_line, title, 1)) is None
    with pytest.raises(UnreadablePage, match="not a tfhub.dev doc title"):
        tfhub.extract_model(MOBILENET, versions, real.replace(first_line, "# Overview", 1))
    with pytest.raises(UnreadablePage, match="metadata"):
        tfhub.extract_model(MOBILENET, versions, re.sub(r"^<!--.*-->\n", "", real, flags=re.MULTILINE))


@pytest.mark.parametrize("directory", snapshot_dirs("tfhub"), ids=lambda path: path.name)
def test_every_recorded_tfhub_doc_is_read(directory):
    outputs = read_every_page(tfhub.TfhubSpider, directory, TFHUB_TREE, "https://" + TFHUB_TREE)
    assert len(outputs) > 1000
    for items in outputs:
        assert_readable(items, tfhub.TfhubSpider)


# -- onnx_zoo -----------------------------------------------------------------------------------------------


def test_one_bad_onnx_entry_is_an_unreadable_model_and_one_without_identity_removes_nothing():
    entries = json.loads(LISTINGS["onnx_zoo"][2].read_text())
    entries[0]["metadata"] = "junk"
    spider = spider_of(onnx_zoo.OnnxZooSpider)
    items, status, errors = crawl_one(spider.parse_manifest, answer("https://" + ONNX_MANIFEST, json.dumps(entries).encode(), listing=True))
    assert [item.model_id for item in items if isinstance(item, UnreadableModel)] == [onnx_zoo.model_id(entries[0])]
    assert len(items) == len(entries) and (status, errors) == ("complete", 1)

    del entries[1]["model_path"]
    spider = spider_of(onnx_zoo.OnnxZooSpider)
    items, status, errors = crawl_one(spider.parse_manifest, answer("https://" + ONNX_MANIFEST, json.dumps(entries).encode(), listing=True))
    assert len(items) == len(entries) - 1 and (status, errors) == ("partial", 2)


@pytest.mark.parametrize("directory", snapshot_dirs("onnx_zoo"), ids=lambda path: path.name)
def test_every_recorded_onnx_entry_is_read(directory):
    spider = spider_of(onnx_zoo.OnnxZooSpider)
    items, status, errors = crawl_one(spider.parse_manifest, replayed(directory / ONNX_MANIFEST, "https://" + ONNX_MANIFEST, listing=True))
    assert (status, errors) == ("complete", 0)
    for record in only_records(items):
        assert_readable([record], onnx_zoo.OnnxZooSpider)


# -- wolfram_nnr --------------------------------------------------------------------------------------------


def test_wolfram_search_items_of_another_type_are_not_models_and_items_naming_no_page_remove_nothing():
    data = json.loads((snapshot_dir("wolfram_nnr", "2024-06-01") / WOLFRAM_SEARCH).read_text())
    data["Resources"][0]["ResourceType"] = "Function"
    listing = wolfram_nnr.listing_items(data)
    assert len(listing.items) == len(data["Resources"]) - 1 and listing.unidentified == 0

    for key in ("ShortName", "DocumentationLink"):
        del data["Resources"][1][key]
    spider = spider_of(wolfram_nnr.WolframNnrSpider)
    requests, status, errors = crawl_one(spider.parse_listing, answer(wolfram_nnr.SEARCH_URL, json.dumps(data).encode(), listing=True))
    assert len(requests) == len(data["Resources"]) - 2 and (status, errors) == ("partial", 1)


def test_a_wolfram_page_cut_short_after_its_markers_is_unreadable_not_a_change():
    page = (snapshot_dir("wolfram_nnr", "2024-06-01") / WOLFRAM_PAGES / LENET).read_text()
    cut = page[: page.index("NetModel[") + 500]  # the lead line and the NetModel cell are there; the rest is not
    with pytest.raises(UnreadablePage, match="cut short"):
        wolfram_nnr.extract_model(wolfram_item("2024-06-01", LENET), cut)
    assert wolfram_nnr.extract_model(wolfram_item("2024-06-01", LENET), page).model_id == LENET


@pytest.mark.parametrize("directory", snapshot_dirs("wolfram_nnr"), ids=lambda path: path.name)
def test_every_recorded_wolfram_page_is_read(directory):
    for items in read_every_page(wolfram_nnr.WolframNnrSpider, directory, WOLFRAM_SEARCH, wolfram_nnr.SEARCH_URL):
        assert_readable(items, wolfram_nnr.WolframNnrSpider)


# -- aws_marketplace ----------------------------------------------------------------------------------------


def aws_page(date: str, product_id: str) -> bytes:
    return (snapshot_dir("aws_marketplace", date) / AWS_PAGES / product_id).read_bytes()


def without_queries(page: bytes, dropped) -> bytes:
    """The page with the embedded record's queries for which `dropped(query)` holds removed."""
    blob = re.search(rb'(<script id="vike_pageContext" type="application/json">)(.*?)(</script>)', page, re.DOTALL)
    context = json.loads(blob.group(2))
    context["dehydratedState"]["queries"] = [q for q in context["dehydratedState"]["queries"] if not dropped(q)]
    return page[: blob.start(2)] + json.dumps(context).encode() + page[blob.end(2):]


def is_named(name: str):
    return lambda query: len(query["queryKey"]) > 2 and query["queryKey"][2].get("queryName") == name


AWS_PAGE_JUNK = {
    "empty": lambda real: b"",
    "truncated": lambda real: real[: real.index(b'id="vike_pageContext"') + 500],
    "no queries": lambda real: without_queries(real, lambda query: True),
    "no Detail query": lambda real: without_queries(real, is_named("Detail")),
    "no Usage query": lambda real: without_queries(real, is_named("Usage")),
}


@pytest.mark.parametrize("kind", AWS_PAGE_JUNK)
def test_aws_page_junk_keeps_the_model(kind):
    product_id = "prodview-p8d2rj5nfy6sc"
    body = AWS_PAGE_JUNK[kind](aws_page("2026-08-20", product_id))
    spider = spider_of(aws_marketplace.AwsMarketplaceSpider)
    response = answer(aws_marketplace.product_url(product_id), body, "text/html", model_id=product_id)
    items, _, errors = crawl_one(spider.parse_product, response, product_id=product_id)
    assert [(type(item), item.model_id) for item in items] == [(UnreadableModel, product_id)] and errors == 1


def test_an_aws_error_page_is_rendered_and_a_render_without_fields_is_unreadable():
    product_id = "prodview-p8d2rj5nfy6sc"
    spider = spider_of(aws_marketplace.AwsMarketplaceSpider)
    response = answer(aws_marketplace.product_url(product_id), AN_HTML_PAGE, "text/html", model_id=product_id)
    [item] = crawl_one(spider.parse_product, response, product_id=product_id)[0]
    assert isinstance(item, (Request, UnreadableModel))  # a render, or without Chromium an unreadable model
    with pytest.raises(UnreadablePage, match="no fulfillment-type field"):
        aws_marketplace.extract_rendered(product_id, AN_HTML_PAGE.decode())


def rendered_facts(fulfillment_type: str) -> str:
    """A rendered product page's fact list, as the recorded script-only page builds it (prodview-j7x3wq9lb5tmc)."""
    return (
        '<div id="app" data-state="ready"><h1 data-testid="listing-title">Clinical Entity Extraction</h1>'
        f'<dl data-testid="product-facts"><div data-field="fulfillment-type" data-value="{fulfillment_type}">'
        "<dt>Delivery method</dt><dd>Delivery</dd></div></dl></div>"
    )


def test_aws_delisted_and_non_sagemaker_pages_are_not_models():
    spider = spider_of(aws_marketplace.AwsMarketplaceSpider)
    for date, product_id in (("2026-08-20", "prodview-t5c9hm3wa7jgv"), ("2025-09-01", "prodview-a4h6tpz8ce3ky")):
        response = answer(aws_marketplace.product_url(product_id), aws_page(date, product_id), "text/html", model_id=product_id)
        assert crawl_one(spider.parse_product, response, product_id=product_id)[0] == []
    assert spider.crawler.stats.get_value("storewatch/delisted") == 1
    assert spider.crawler.stats.get_value("storewatch/model_failures") is None
    assert aws_marketplace.extract_rendered("prodview-j7x3wq9lb5tmc", rendered_facts("SAAS")) is None
    assert aws_marketplace.extract_rendered("prodview-j7x3wq9lb5tmc", rendered_facts("SAGEMAKER_MODEL")).elements["name"]


@pytest.mark.parametrize("directory", snapshot_dirs("aws_marketplace"), ids=lambda path: path.name)
def test_every_recorded_aws_page_with_its_record_is_read(directory):
    outputs = read_every_page(aws_marketplace.AwsMarketplaceSpider, directory, AWS_SITEMAP, aws_marketplace.SITEMAP_URL, "parse_sitemap")
    kept = [items for items in outputs if any(isinstance(item, ModelRecord) for item in items)]
    assert len(kept) == 6  # 7 SageMaker listings a date, one of them read through the browser:
    [render] = [item for items in outputs for item in items if not isinstance(item, ModelRecord)]
    assert isinstance(render, Request) or "no Chromium" in render.reason  # (without Chromium, an unreadable model)
    for items in kept:
        assert_readable(items, aws_marketplace.AwsMarketplaceSpider)
