"""The node's side of a Scrapyd job (nodes/job.py): a job's spider arguments become the crawl's settings."""

from __future__ import annotations

import pytest
from scrapy import signals
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from conftest import snapshot_dir
from crawler.runner import spider_class
from nodes.job import ScrapydJob
from storage.errors import StorewatchError


def job_settings(store: str, **arguments) -> tuple[Settings, object]:
    """The settings the add-on gives `scrapy crawl STORE -a KEY=VALUE...`, and the crawler (to stop it)."""
    crawler = get_crawler(spider_class(store))
    crawler.spider = crawler.spidercls.from_crawler(crawler, **arguments)
    settings = Settings()
    ScrapydJob.from_crawler(crawler).update_settings(settings)
    return settings, crawler


def test_a_job_replays_its_snapshot_through_a_replay_server_and_records_its_node_and_job():
    settings, crawler = job_settings(
        "pytorch_hub", _job="a1b2", node="http://node2:6800", replay=str(snapshot_dir("pytorch_hub", "2019-06-30")),
        not_after="2999-01-01T00:00:00Z",
    )
    try:
        assert settings["STOREWATCH_JOB"] == "a1b2" and settings["STOREWATCH_NODE"] == "http://node2:6800"
        assert settings["STOREWATCH_OBSERVED_AT"].startswith("2019-06-30T00:00:00")
        assert settings["STOREWATCH_SOURCE"].startswith("replay:2019-06-30 ")
        assert settings["STOREWATCH_REPLAY_URL"].startswith("http://127.0.0.1:")
        assert settings.getint("CONCURRENT_REQUESTS") == 32  # the replay settings, as `storewatch crawl --replay`
        assert settings.getdict("STOREWATCH_HEALTH")["confirm_removals"] == 1
    finally:
        crawler.signals.send_catch_log(signals.engine_stopped)


def test_a_job_started_after_the_scheduler_gave_up_on_it_records_nothing():
    with pytest.raises(StorewatchError, match="started after 2020-01-01T00:00:00Z: the scheduler gave up on it"):
        job_settings("onnx_zoo", _job="c3d4", node="http://node1:6800", not_after="2020-01-01T00:00:00Z")


def test_a_job_refuses_another_stores_snapshot():
    with pytest.raises(StorewatchError, match="is a snapshot of 'tfhub', not 'pytorch_hub'"):
        job_settings("pytorch_hub", _job="e5f6", replay=str(snapshot_dir("tfhub", "2021-06-30")))


def test_a_crawl_that_is_no_scrapyd_job_is_left_to_storewatch_crawl():
    settings, _ = job_settings("onnx_zoo", replay="/not/read")
    assert settings["STOREWATCH_JOB"] is None and settings["STOREWATCH_REPLAY_URL"] is None
