"""Crawls on Scrapyd nodes: the scheduler decides when, a Scrapyd node runs each crawl, PostgreSQL holds the outcome.

- `scrapyd`: a client of one node's HTTP JSON API (daemonstatus, schedule, listjobs, cancel).
- `dispatch`: the runner seam -- `LocalDispatcher` (a crawl process on this machine) and `ScrapydDispatcher`
  (the least-busy reachable node that has what the store needs), behind one interface the scheduler uses.
- `job`: the node's side, a Scrapy add-on: turns a Scrapyd job's spider arguments (the snapshot to replay, the
  node, the job id) into the settings `storewatch crawl` would give the same crawl.
"""
