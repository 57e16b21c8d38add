"""NormalizePipeline: a record without the store's required elements is unreadable; a huge raw record is capped."""

from __future__ import annotations

import hashlib
import json

from scrapy.utils.test import get_crawler

from conftest import snapshot_dir
from crawler.items import ModelRecord, UnreadableModel
from crawler.pipelines import RAW_PREFIX_CHARS, NormalizePipeline, capped_raw
from spiders import pytorch_hub, tfhub
from storage.writer import canonical_json

TFHUB_TREE = "api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"
TFHUB_RAW = "raw.githubusercontent.com/tensorflow/tfhub.dev/master"


def pipeline_for(spider_class, **settings) -> NormalizePipeline:
    crawler = get_crawler(spider_class, settings_dict=settings)
    crawler.spider = spider_class.from_crawler(crawler)
    return NormalizePipeline.from_crawler(crawler)


def resnet() -> ModelRecord:
    text = (snapshot_dir("pytorch_hub", "2024-04-30") / "raw.githubusercontent.com/pytorch/hub/master/pytorch_vision_resnet.md").read_text()
    return pytorch_hub.extract_model("pytorch_vision_resnet.md", text)


def test_a_record_without_a_required_element_is_an_unreadable_model_counted_as_a_failure():
    pipeline = pipeline_for(pytorch_hub.PytorchHubSpider)
    assert isinstance(pipeline.process_item(resnet()), ModelRecord)
    for emptied in ("  ", None):
        record = resnet()
        record.elements["provider"] = emptied  # the page's `author:` blank or gone
        item = pipeline.process_item(record)
        assert isinstance(item, UnreadableModel) and item.model_id == "pytorch_vision_resnet"
        assert "provider" in item.reason
    assert pipeline.crawler.stats.get_value("storewatch/model_failures") == 2


def tfhub_record(date: str, handle: str) -> ModelRecord:
    versions = tfhub.model_versions(json.loads((snapshot_dir("tfhub", date) / TFHUB_TREE).read_text()))[handle]
    return tfhub.extract_model(handle, versions, (snapshot_dir("tfhub", date) / TFHUB_RAW / versions[max(versions)]).read_text())


def test_a_raw_record_over_the_limit_is_replaced_by_a_stable_note():
    handle = "google/imagenet/mobilenet_v2_100_224/classification"
    pipeline = pipeline_for(tfhub.TfhubSpider, STOREWATCH_MAX_RAW_BYTES=2000)
    uncapped = pipeline_for(tfhub.TfhubSpider).process_item(tfhub_record("2021-06-30", handle))  # the 1 MB default
    whole = canonical_json(uncapped.raw)
    assert len(whole.encode()) > 2000

    first, again = (pipeline.process_item(tfhub_record("2021-06-30", handle)) for _ in range(2))
    note = first.raw["raw_capped"]
    assert first.raw == again.raw  # same input, same stored value: the content hash does not flicker
    assert note == {"bytes": len(whole.encode()), "limit": 2000, "sha256": hashlib.sha256(whole.encode()).hexdigest(), "prefix": whole[:RAW_PREFIX_CHARS]}
    assert first.elements == uncapped.elements  # only the raw part is capped

    older = pipeline.process_item(tfhub_record("2020-12-31", handle)).raw["raw_capped"]
    assert older["sha256"] != note["sha256"]  # a change beyond the prefix still changes the record


def test_a_raw_record_within_the_limit_is_kept_whole():
    raw = {"a": "x" * 100}
    assert capped_raw(raw, 1000) is raw and capped_raw(raw, 0) is raw
    assert capped_raw(raw, 50)["raw_capped"]["bytes"] == len(canonical_json(raw))
