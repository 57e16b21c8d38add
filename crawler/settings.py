"""Scrapy settings for storewatch: the one place crawl behaviour is configured.

Per-store values (politeness, robots, auth) are declared once beside each spider (spiders/<store>.py,
`STORE = StoreConfig(...)`); the `storewatch crawl` command adds the run's own values (database URL,
observed_at, replay base URL) at command-line priority.
"""

BOT_NAME = "storewatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
SPIDER_LOADER_CLASS = "crawler.stores.StoreSpiderLoader"  # imports only the crawled store's spider

USER_AGENT = "storewatch/0.1 (model-store research crawler; +https://github.com/storewatch/storewatch)"
ROBOTSTXT_OBEY = True
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Live politeness defaults; each store's StoreConfig may tighten them.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 60
COOKIES_ENABLED = False
# Items go to one synchronous writer, so parallel item processing buys nothing; Scrapy starts this many
# asyncio tasks for every response's output, which at the default (100) cost more than the crawl itself.
CONCURRENT_ITEMS = 4
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# Replay: a local server answers instantly, so the crawl runs flat out.
REPLAY_SETTINGS = {
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "RETRY_TIMES": 0,
    # A recorded 429 still pauses and retries (crawler/backoff.py), but the window the host asked to wait for
    # (the Hub's RateLimit `t`, minutes) has no meaning for recorded answers: a replay waits at most this.
    "STOREWATCH_BACKOFF_MAX_SECONDS": 0.05,
    # Nor does a replay spread its requests over the recorded RateLimit windows (crawler/backoff.py).
    "STOREWATCH_RATELIMIT_PACING": False,
    # Only what a replay needs: a replayed file is never redirected, compressed, proxied, cookie-laden or
    # timed out, the replay server reads no headers, and no storewatch spider limits its domains or looks
    # for start requests; every middleware costs a little on every request. Download statistics stay: a run
    # keeps them. (The store-token middleware switches itself off in a replay.)
    "DOWNLOADER_MIDDLEWARES_BASE": {"scrapy.downloadermiddlewares.stats.DownloaderStats": 850},
    "SPIDER_MIDDLEWARES_BASE": {"scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": 50},
    # Extensions a replay needs (stats, early close, memory); the others listen to per-request signals.
    "EXTENSIONS_BASE": {
        "scrapy.extensions.corestats.CoreStats": 0,
        "scrapy.extensions.logcount.LogCount": 0,
        "scrapy.extensions.memusage.MemoryUsage": 0,
        "scrapy.extensions.closespider.CloseSpider": 0,
    },
}

# A replay swaps the base URL in the download handler (crawler/replay_transport.py): STOREWATCH_REPLAY_URL
# alone turns it on. A spider that renders pages sets its own browser handler, which swaps it the same way.
DOWNLOAD_HANDLERS = {
    "http": "crawler.replay_transport.HttpDownloadHandler",
    "https": "crawler.replay_transport.HttpDownloadHandler",
}

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.StoreAuthMiddleware": 400,
    # Next to the download handler: sees each response as received, before decompression, redirects, retries.
    "webarchive.middleware.ArchiveMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.RunAccountingMiddleware": 60,  # after HttpErrorMiddleware: only 2xx count as answered
}
ITEM_PIPELINES = {
    "crawler.pipelines.NormalizePipeline": 100,
    "crawler.pipelines.SnapshotPipeline": 800,
}
EXTENSIONS = {
    "crawler.progress.ProgressLine": 500,
}
# A crawl Scrapyd started (`scrapy crawl STORE -a _job=...`) gets the settings `storewatch crawl` gives it (nodes/job.py).
ADDONS = {
    "nodes.job.ScrapydJob": 0,
}

# storewatch's own settings (set per run by `storewatch crawl`).
STOREWATCH_DATABASE_URL = None  # None: $STOREWATCH_DATABASE_URL or ./data/storewatch.db
STOREWATCH_OBSERVED_AT = None  # ISO instant of the snapshot; None: now (a live crawl)
STOREWATCH_SOURCE = None  # where the run's data came from, for crawl_runs.source
STOREWATCH_REPLAY_URL = None  # base URL of a replay server; None: crawl the live stores
STOREWATCH_PROGRESS = False  # print a progress line on stderr
STOREWATCH_NODE = None  # the Scrapyd node running this crawl (its URL), recorded with the run; None: not on a node
STOREWATCH_JOB = None  # the crawl's Scrapyd job id, recorded with the run
# The web archive (webarchive/): every response of a run into WARC files under <dir>/<store>/.
STOREWATCH_ARCHIVE = None  # False turns it off; None: $STOREWATCH_ARCHIVE (`off` turns it off), else on
STOREWATCH_ARCHIVE_DIR = None  # None: $STOREWATCH_ARCHIVE_DIR, else archive/ beside the SQLite database (./data/archive)
STOREWATCH_ARCHIVE_ROTATE_BYTES = 1024**3  # a WARC file past this size is closed and the next one begun
# A replayed snapshot known to be incomplete (a damaged WARC file read as far as it goes): why. The run is `partial`.
STOREWATCH_SOURCE_INCOMPLETE = None
# The slice of a store to crawl, from its storewatch.toml table (crawler/schedule_config.py, STORE_SCOPES):
# e.g. {"author": "google", "max_models": 1000} for the Hub; empty: the whole store.
STOREWATCH_SCOPE: dict = {}
# A record's raw part larger than this (bytes of canonical JSON) is stored as a note: its size, a SHA-256 of
# the whole and a prefix (storage.writer.capped_raw_json). Pages themselves are limited per store
# (StoreConfig.max_page_bytes -> DOWNLOAD_MAXSIZE).
STOREWATCH_MAX_RAW_BYTES = 1024 * 1024
# Rendering (spiders that need a browser, crawler/browser.py): the Chromium executable; None: $STOREWATCH_CHROMIUM,
# else Debian's /usr/bin/chromium or the first chromium on PATH. storewatch never downloads a browser.
STOREWATCH_CHROMIUM = None
STOREWATCH_RENDER_CONTEXTS = 2  # pages rendered at once, each in its own browser context
# Archive crawls (crawler/archive.py, crawler/wayback.py; set by `storewatch backfill`): which capture days to
# record (YYYY-MM-DD bounds, at most one per interval such as 1M), rows per CDX request, and the pause after
# a 429/503 (seconds, doubled on each repeat, at most this many retries).
STOREWATCH_TIME_TRAVEL = False  # a web store's spider reads the archive's captures of its pages instead
STOREWATCH_ARCHIVE_FROM = None
STOREWATCH_ARCHIVE_TO = None
STOREWATCH_ARCHIVE_EVERY = None
STOREWATCH_CDX_PAGE_SIZE = 10
STOREWATCH_ARCHIVE_CAPTURES = []  # a replay of a backfill's web archive: record only these captures (its runs)
STOREWATCH_BACKOFF_SECONDS = 60.0
STOREWATCH_BACKOFF_RETRIES = 5
STOREWATCH_BACKOFF_MAX_SECONDS = 900.0
STOREWATCH_RATELIMIT_PACING = True  # a host's RateLimit header spreads the requests over its window (crawler/backoff.py)
# Crawl statistics kept with each run (crawl_runs.stats), by key prefix: enough to see what a run did,
# small enough that an unchanged re-crawl adds well under 1 KB.
STOREWATCH_KEPT_STATS = [
    "downloader/request_count",
    "downloader/response_count",
    "downloader/response_status_count/",
    "downloader/response_bytes",
    "downloader/exception_type_count/",
    "response_received_count",
    "item_scraped_count",
    "item_dropped_count",
    "storewatch/models_staged",
    "retry/",
    "httperror/",
    "spider_exceptions/",
    "log_count/ERROR",
    "elapsed_time_seconds",
    "memusage/max",
    # scrapy-playwright's own counters: pages rendered (and at most at once), browsers and contexts started,
    # browser requests aborted (images, fonts, media)
    "playwright/page_count",
    "playwright/browser_count",
    "playwright/context_count/max_concurrent",
    "playwright/request_count/aborted",
    "storewatch/rendered_pages",
    "storewatch/delisted",
    "storewatch/backoff_",
    "storewatch/ratelimit_paced_",
    "storewatch/listing_",
    "storewatch/duplicate_ids",
    "storewatch/model_failures",
]
