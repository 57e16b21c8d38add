"""NormalizePipeline: a record without the store's required elements is unreadable; the writer caps a huge raw record."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import select

from scrapy.utils.test import get_crawler

from conftest import snapshot_dir
from crawler.items import ModelBatch, ModelRecord, UnreadableModel
from crawler.pipelines import NormalizePipeline
from spiders import pytorch_hub, tfhub
from storage.models import ModelVersion
from storage.writer import RAW_PREFIX_CHARS, SnapshotWriter, canonical_json, capped_raw_json

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
    record = tfhub.extract_model(handle, versions, (snapshot_dir("tfhub", date) / TFHUB_RAW / versions[max(versions)]).read_text())
    return pipeline_for(tfhub.TfhubSpider).process_item(record)


def stored_raw(engine, when: str, record: ModelRecord, max_raw_bytes: int) -> dict:
    """Record `record` as observed at `when` through a writer with that cap; the raw part stored for it."""
    writer = SnapshotWriter(engine, "tfhub", datetime.fromisoformat(when).replace(tzinfo=timezone.utc), "tfhub/1", max_raw_bytes=max_raw_bytes)
    run_id = writer.start()
    writer.add(record.model_id, record.elements, record.raw)
    writer.finish("complete")
    with engine.connect() as connection:
        opened = connection.execute(select(ModelVersion.raw).where(ModelVersion.opened_by_run == run_id)).scalars().all()
    return opened[0] if opened else None


def test_a_raw_record_over_the_limit_is_stored_as_a_stable_note(engine):
    handle = "google/imagenet/mobilenet_v2_100_224/classification"
    record = tfhub_record("2021-06-30", handle)
    whole = canonical_json(record.raw)
    assert len(whole.encode()) > 2000

    note = stored_raw(engine, "2021-06-30", record, 2000)["raw_capped"]
    assert note == {"bytes": len(whole.encode()), "limit": 2000, "sha256": hashlib.sha256(whole.encode()).hexdigest(), "prefix": whole[:RAW_PREFIX_CHARS]}
    assert stored_raw(engine, "2021-07-01", tfhub_record("2021-06-30", handle), 2000) is None  # same note: no new version
    assert capped_raw_json(whole, 2000) == capped_raw_json(whole, 2000)


def test_a_raw_record_within_the_limit_is_kept_whole():
    raw = canonical_json({"a": "x" * 100})
    assert capped_raw_json(raw, 1000) == raw and capped_raw_json(raw, 0) == raw
    assert json.loads(capped_raw_json(raw, 50))["raw_capped"]["bytes"] == len(raw)
    wide = canonical_json({"a": "€" * 100})  # 3 bytes a character: over 250 bytes, though 104 characters
    assert json.loads(capped_raw_json(wide, 250))["raw_capped"]["bytes"] == len(wide.encode())


def test_a_batch_record_with_an_element_outside_the_taxonomy_stays_present_as_unreadable():
    """Dropped, the model would be missing from a complete run and read as removed."""
    pipeline = pipeline_for(pytorch_hub.PytorchHubSpider)
    stray = resnet()
    stray.elements["popularity_rank"] = 3  # not an element
    batch = pipeline.process_item(ModelBatch(records=[resnet(), stray]))
    assert [type(record) for record in batch.records] == [ModelRecord, UnreadableModel]
    assert batch.records[1].model_id == stray.model_id and "popularity_rank" in batch.records[1].reason
    assert pipeline.crawler.stats.get_value("storewatch/model_failures") == 1
