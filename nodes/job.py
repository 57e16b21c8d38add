"""The node's side of a Scrapyd job: `scrapy crawl STORE -a _job=ID -a replay=PATH ...` set up as `storewatch crawl`.

Scrapyd runs each job as `scrapy crawl` in the project's settings (crawler.settings, which enables this add-on).
The add-on reads the job's spider arguments and gives the crawl the settings `storewatch crawl` would give it:

- `replay` (a snapshot directory on the node), `faults` (JSON list of `--fail` rules): a replay server for the
  crawl's lifetime and the replay settings; `archive_day`: record only that capture day of an archive replay
  (as `storewatch backfill --from DAY --to DAY`);
- the store's crawl-health policy, scope and `[archive]` settings from the node's own storewatch.toml
  ($STOREWATCH_CONFIG, else ./storewatch.toml, else the shipped one);
- `node` and Scrapyd's own `_job`: recorded with the run (crawl_runs.node, crawl_runs.job), which is how the
  scheduler finds it;
- `not_after`: a job a node starts later than this (it was queued on a node that went away and came back) is
  refused before it records anything: the scheduler has given up on it and crawled the store elsewhere.

The database URL and the stores' tokens come from the node's environment, never from the job's arguments.
A crawl without `_job` (`storewatch crawl`, which sets these itself) is left alone.
"""

from __future__ import annotations

import json
import logging
from datetime import date

from scrapy import signals

from crawler import settings as default_settings
from storage.errors import StorewatchError
from storage.timeutil import isoformat, parse_instant, utcnow

log = logging.getLogger(__name__)


class ScrapydJob:
    """Scrapy add-on (ADDONS in crawler/settings.py)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.server = None

    @classmethod
    def from_crawler(cls, crawler) -> "ScrapydJob":
        return cls(crawler)

    def update_settings(self, settings) -> None:
        spider = self.crawler.spider
        job = getattr(spider, "_job", None)
        if spider is None or job is None:
            return
        not_after = getattr(spider, "not_after", None)
        if not_after and utcnow() > parse_instant(not_after, end_of_day=False):
            raise StorewatchError(f"Scrapyd job {job} started after {not_after}: the scheduler gave up on it; nothing recorded")
        store = spider.name
        run = {"STOREWATCH_JOB": job, "STOREWATCH_NODE": getattr(spider, "node", None), **self._config_settings(store)}
        replay = getattr(spider, "replay", None)
        if replay:
            run.update(self._replay_settings(store, replay, json.loads(getattr(spider, "faults", None) or "[]")))
        archive_day = getattr(spider, "archive_day", None)
        if archive_day:
            from crawler.cli.backfill import archive_stores

            day = date.fromisoformat(archive_day).isoformat()
            run.update(STOREWATCH_ARCHIVE_FROM=day, STOREWATCH_ARCHIVE_TO=day, STOREWATCH_TIME_TRAVEL=store not in archive_stores())
        settings.setdict(run, priority="cmdline")

    def _config_settings(self, store: str) -> dict:
        from crawler.cli.crawl import health_policy
        from crawler.schedule_config import load_config
        from crawler.stores import known_stores
        from webarchive.location import archive_settings

        config = load_config(None, known_stores=known_stores())
        return {
            "STOREWATCH_HEALTH": health_policy(config, store).as_dict(),
            "STOREWATCH_SCOPE": config.scopes.get(store, {}),
            **archive_settings(config.archive),
        }

    def _replay_settings(self, store: str, path: str, faults: list[str]) -> dict:
        from crawler.replay import ReplayServer, Snapshot, parse_faults

        snapshot = Snapshot.load(path)
        if snapshot.store != store:
            raise StorewatchError(f"{snapshot.path} is a snapshot of {snapshot.store!r}, not {store!r}")
        self.server = ReplayServer(snapshot.path, parse_faults(faults)).start()
        self.crawler.signals.connect(self._stop_server, signal=signals.engine_stopped)
        return {
            **default_settings.REPLAY_SETTINGS,
            "STOREWATCH_REPLAY_URL": self.server.ready(),
            "STOREWATCH_OBSERVED_AT": isoformat(snapshot.observed_at),
            "STOREWATCH_SOURCE": snapshot.source,
            "STOREWATCH_SOURCE_INCOMPLETE": snapshot.incomplete,
        }

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None
