"""Both cursor-paginated listings (Hugging Face Hub, Replicate) guard their walk the same way (spiders/listing_guard.py):
a `next` cursor back to the first page ends the walk as a listing failure (the run is partial, nothing removed),
and a model listed again on the next page is counted and kept once."""

from __future__ import annotations

import asyncio
import json

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler.items import ModelBatch
from spiders.huggingface import HuggingfaceSpider
from spiders.replicate import LISTING_REPEATS, ReplicateSpider


def hub_page(ids: list[str], following: str | None) -> tuple[bytes, dict]:
    headers = {"Link": f'<{following}>; rel="next"'} if following else {}
    return json.dumps([{"id": model_id, "author": model_id.split("/")[0]} for model_id in ids]).encode(), headers


def replicate_page(ids: list[str], following: str | None) -> tuple[bytes, dict]:
    results = [{"owner": model_id.split("/")[0], "name": model_id.split("/")[1]} for model_id in ids]
    return json.dumps({"results": results, "next": following}).encode(), {}


SPIDERS = {
    "huggingface": (HuggingfaceSpider, hub_page, "storewatch/duplicate_ids"),
    "replicate": (ReplicateSpider, replicate_page, LISTING_REPEATS),
}


def first_url(spider) -> str:
    async def first():
        async for request in spider.start():
            return request.url

    return asyncio.run(first())


def walk(spider, url: str, ids: list[str], following: str | None) -> tuple[list[str], list[str]]:
    body, headers = spider.page(ids, following)
    response = TextResponse(url, body=body, headers=headers, encoding="utf-8", request=Request(url))
    output = list(spider.parse_listing(response))
    (batch,) = [item for item in output if isinstance(item, ModelBatch)]
    return [record.model_id for record in batch.records], [request.url for request in output if isinstance(request, Request)]


@pytest.mark.parametrize("store", sorted(SPIDERS))
def test_a_cursor_back_to_the_first_page_is_a_listing_failure_and_a_repeat_is_kept_once(store):
    spider_class, page, repeat_stat = SPIDERS[store]
    crawler = get_crawler(spider_class)
    crawler.stats.open_spider()
    spider = spider_class.from_crawler(crawler)
    spider.page = page
    first = first_url(spider)
    second = "https://example.org/listing?cursor=2"
    assert walk(spider, first, ["a/x", "a/y", "a/x"], second) == (["a/x", "a/y"], [second])
    listed, following = walk(spider, second, ["a/y", "a/z"], first)  # a/y drifted onto this page; the cursor leads back
    assert (listed, following) == (["a/z"], [])
    assert crawler.stats.get_value(repeat_stat) == 2
    assert crawler.stats.get_value("storewatch/listing_failures") == 1
