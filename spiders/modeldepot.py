"""ModelDepot (modeldepot.io, shut down around 2020), crawled through the Wayback Machine.

One crawl reads the archive's CDX index of modeldepot.io (one row per content change, resumed page by page),
then the raw captures it needs, and records one run per capture day of the `/browse` listing, observed at
that capture (crawler/archive.py):

- a day's models are the cards on that day's browse capture;
- each model's record comes from its newest model-page capture on or before that day (the browse card alone
  when there is none), so a model not captured again keeps its record;
- a model missing from the day's browse capture is gone (a complete run removes it).

Not a model, because the store says so: a model missing from the day's browse capture (gone), and a path
under the site's own folders (`/assets`, `/search`, `/browse`...). Unreadable: a browse capture without the
model list (an error page, an empty body) or cut short (no closing `</html>`: the archive keeps some truncated
captures) is not that day's listing, so the day is not recorded; a model page capture without its title
(`h1.model-title`) or cut short counts as an unreadable capture (the model is kept).

Identity: `model_id` is `<user>/<slug>` from the page path, lowercased, with or without `/overview`.
ModelDepot showed no version number; the CDX digest of the capture used stays in the raw record.
The page markup was reconstructed (snapshots/modeldepot/SOURCES.md): check it on real captures.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from crawler.accounting import note_failure, note_malformed_listing
from crawler.archive import ArchivedSnapshot
from crawler.items import ModelRecord
from crawler.wayback import Capture, cdx_url, choose_days, latest_before, parse_cdx, rows_of
from spiders.base import StoreConfig, StoreSpider, _describe
from spiders.html import text_of, without_none
from spiders.pages import body_text, is_whole_document

SITE = "https://modeldepot.io"
ARCHIVE_SPAN = ("2017", "2021")  # the store's life: every capture a day's state may depend on
CDX_PAGE_SIZE = 10  # rows per CDX page, as recorded in the replay; raise with STOREWATCH_CDX_PAGE_SIZE live
NOT_USERS = frozenset({"assets", "static", "browse", "search", "api", "upload", "users", "about", "login", "signup"})
MODEL_PATH = re.compile(r"^/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?:/overview)?$")

STORE = StoreConfig(
    name="modeldepot",
    title="ModelDepot (via the Wayback Machine)",
    identity="<user>/<slug> of the model page path, lowercased (with or without /overview)",
    live_urls=(cdx_url("modeldepot.io/", from_=ARCHIVE_SPAN[0], to=ARCHIVE_SPAN[1], limit=CDX_PAGE_SIZE), "https://web.archive.org/web/<timestamp>id_/<original>"),
    crawled_via="archive",
    # The store closed around 2020: the archive's capture nearest its last year, of the page the browse cards link.
    model_page=f"https://web.archive.org/web/2020/{SITE}/{{model_id}}",
    download_delay=1.0,  # the archive allows about 60 requests a minute
    concurrency=1,
    obey_robots=False,  # reads archive.org's public CDX API and raw captures, within its published rate
    elements=(
        "name", "description", "provider", "task", "input_domain", "keywords", "published_at", "updated_at", "size",
        "demo", "popularity", "usage", "training_data", "io_format", "framework", "access", "license", "source_code",
        "paper",
    ),
    required_elements=("name", "provider"),  # every browse card shows both
    # A model's GitHub-style star count moved between captures (icnet: 21, then 34): a counter, not a change of
    # the model. The popularity element names it (["stars"]) so that coverage still counts it as shown.
    counters={"stars": "stars the model page (or its browse card) showed"},
    backs_off=True,  # a 429 pauses the crawl for as long as the host asks, then asks again
)


# -- classifying the archive's index ------------------------------------------------------------------------


def model_id_of(capture: Capture) -> str | None:
    """`user/slug` for a model page capture (either URL form), else None."""
    match = MODEL_PATH.match(capture.path)
    if not match or match.group(1).lower() in NOT_USERS:
        return None
    return f"{match.group(1)}/{match.group(2)}".lower()


def browse_captures(captures: list[Capture]) -> list[Capture]:
    return [capture for capture in captures if capture.path == "/browse" and capture.is_html_page]


def model_captures(captures: list[Capture]) -> dict[str, list[Capture]]:
    """Readable (200, HTML) page captures per model id."""
    found: dict[str, list[Capture]] = {}
    for capture in captures:
        model_id = model_id_of(capture)
        if model_id and capture.is_html_page:
            found.setdefault(model_id, []).append(capture)
    return found


# -- reading captured pages ---------------------------------------------------------------------------------



def is_browse_page(html: str) -> bool:
    """A whole browse capture showing the model list (perhaps empty); an error page, an empty body or a capture
    cut short is not."""
    return is_whole_document(html) and bool(Selector(text=html, type="html").css(".model-list"))


def is_model_page(html: str) -> bool:
    """A whole model page capture showing the model's title; an error page, a login page, an empty body or a
    capture cut short is not."""
    return is_whole_document(html) and bool(Selector(text=html, type="html").css("h1.model-title"))


def browse_cards(html: str) -> dict[str, dict[str, Any]]:
    """The model cards of a browse capture, by model id, with what each card shows."""
    cards = {}
    for card in Selector(text=html, type="html").css(".model-card[data-model]"):
        cards[card.attrib["data-model"].strip().lower()] = without_none(
            {
                "name": text_of(card.css(".model-card-title")),
                "provider": text_of(card.css(".model-card-author")),
                "description": text_of(card.css(".model-card-description")),
                "framework": text_of(card.css(".framework-badge")),
                "task": text_of(card.css(".category-badge")),
                "stars": _stars(text_of(card.css(".star-count"))),
                "href": card.css(".model-card-title::attr(href)").get(),
            }
        ) or {}
    return cards


def extract_model(model_id: str, html: str, capture: Capture, card: dict[str, Any] | None = None) -> ModelRecord:
    """A model's record from its overview capture; the browse card fills what the page lacks."""
    page = Selector(text=html, type="html")
    card = card or {}

    def meta(name: str) -> str | None:
        return text_of(page.css(f"dd.{name}"))

    def link(css: str) -> str | None:
        href = page.css(css).attrib.get("href")
        return urljoin(SITE + "/", href) if href else None

    input_type, output_type = meta("input-type"), meta("output-type")
    stars = _stars(text_of(page.css(".star-count"))) if page.css(".star-count") else card.get("stars")
    elements = {
        "name": text_of(page.css("h1.model-title")) or card.get("name"),
        "description": text_of(page.css("p.model-tagline")) or card.get("description"),
        "provider": text_of(page.css("a.model-author")) or card.get("provider"),
        "task": meta("category") or card.get("task"),
        "input_domain": input_type,
        "keywords": page.css(".model-tags a.tag::text").getall() or None,
        "published_at": page.css("dd.added time::attr(datetime)").get(),
        "updated_at": page.css("dd.updated time::attr(datetime)").get(),
        "size": meta("model-size"),
        "popularity": ["stars"] if stars is not None else None,
        "demo": link("a.demo-link"),
        "usage": "\n".join(page.css("article.model-overview pre code::text").getall()) or None,
        "training_data": meta("dataset"),
        "io_format": without_none({"input": input_type, "output": output_type}),
        "framework": meta("framework") or card.get("framework"),
        "access": link("a.download-button") or text_of(page.css("code.hub-module-url")),
        "license": meta("license"),
        "source_code": link("a.github-link"),
        "paper": link("a.paper-link"),
    }
    raw = {
        "capture": {"timestamp": capture.timestamp, "url": capture.original, "digest": capture.digest},
        "overview": [text for text in (" ".join(p.css("::text").getall()).strip() for p in page.css("article.model-overview p")) if text] or None,
    }
    return ModelRecord(model_id, without_none(elements) or {}, without_none(raw) or {}, without_none({"stars": stars}) or {})


def card_record(model_id: str, card: dict[str, Any], browse: Capture) -> ModelRecord:
    """A model known only from a browse card (its own page was never captured)."""
    elements = {key: card[key] for key in ("name", "provider", "description", "framework", "task") if key in card}
    counters = {"stars": card["stars"]} if "stars" in card else {}
    if counters:
        elements["popularity"] = ["stars"]
    return ModelRecord(model_id, elements, {"capture": {"timestamp": browse.timestamp, "url": browse.original, "card_only": True}}, counters)


def _stars(text: str | None) -> int | None:
    digits = re.sub(r"\D", "", text or "")
    return int(digits) if digits else None


# -- the spider ---------------------------------------------------------------------------------------------


class ModeldepotSpider(StoreSpider):
    """CDX index (resumed), then each chosen day's browse capture, then the model captures those days need."""

    name = STORE.name
    store_config = STORE
    version = "1"
    custom_settings = {
        "ITEM_PIPELINES": {"crawler.pipelines.NormalizePipeline": 100, "crawler.archive.ArchivePipeline": 800},
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.captures: list[Capture] = []
        self.index_complete = True
        self.days: list[Capture] = []
        self.cards: dict[str, dict[str, dict[str, Any]] | None] = {}  # browse timestamp -> cards (None: failed)
        self.pages: dict[Capture, str | None] = {}  # model capture -> its HTML (None: unreadable)
        self.pending = 0
        self.errors: list[str] = []

    # window: STOREWATCH_ARCHIVE_FROM / _TO (dates) and _EVERY (1M...), set by `storewatch backfill`
    def window(self) -> tuple[date | None, date | None, str | None]:
        get = self.settings.get
        start, end = get("STOREWATCH_ARCHIVE_FROM"), get("STOREWATCH_ARCHIVE_TO")
        return (date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None, get("STOREWATCH_ARCHIVE_EVERY"))

    async def start(self):
        yield self.cdx_request(None)

    def cdx_request(self, resume_key: str | None):
        limit = self.settings.getint("STOREWATCH_CDX_PAGE_SIZE", CDX_PAGE_SIZE)
        url = cdx_url("modeldepot.io/", from_=ARCHIVE_SPAN[0], to=ARCHIVE_SPAN[1], limit=limit, resume_key=resume_key)
        return self.listing_request(url, self.parse_cdx).replace(errback=self.cdx_failed)

    def parse_cdx(self, response):
        try:
            captures, resume_key = parse_cdx(rows_of(response.json()))
        except ValueError as error:
            note_failure(self.crawler.stats, "listing", f"unreadable CDX answer {response.url}: {error}")
            self.index_complete = False
            yield from self.fetch_listings()
            return
        self.captures += captures
        if resume_key:
            yield self.cdx_request(resume_key)
        else:
            yield from self.fetch_listings()

    def cdx_failed(self, failure):
        self.listing_failed(failure)
        self.index_complete = False
        self.errors.append(f"CDX index incomplete: {_describe(failure)}")
        yield from self.fetch_listings()

    def fetch_listings(self):
        start, end, every = self.window()
        self.days = choose_days(browse_captures(self.captures), start=start, end=end, every=every, only=self.settings.getlist("STOREWATCH_ARCHIVE_CAPTURES"))
        self.pending = len(self.days)
        for browse in self.days:
            request = self.listing_request(browse.raw_url, self.parse_browse, cb_kwargs={"browse": browse})
            yield request.replace(errback=self.browse_failed, cb_kwargs={"browse": browse})
        if not self.days:
            self.logger.warning("no browse capture in the archive's index for the window asked")

    def parse_browse(self, response, browse: Capture):
        html = body_text(response)
        if is_browse_page(html):
            self.cards[browse.timestamp] = browse_cards(html)
        else:
            message = f"browse capture {browse.timestamp} is not a browse page (no model list, or cut short): day not recorded"
            note_malformed_listing(self.crawler.stats, message)
            self.cards[browse.timestamp] = None
            self.errors.append(message)
        yield from self.listing_done()

    def browse_failed(self, failure):
        self.listing_failed(failure)
        browse = failure.request.cb_kwargs["browse"]
        self.cards[browse.timestamp] = None
        self.errors.append(f"browse capture {browse.timestamp} unreadable: {_describe(failure)}")
        yield from self.listing_done()

    def listing_done(self):
        self.pending -= 1
        if self.pending:
            return
        for capture in sorted(self.needed_pages(), key=lambda c: c.timestamp):
            self.pending += 1
            yield self.model_request(capture.raw_url, model_id_of(capture), self.parse_page, cb_kwargs={"capture": capture}).replace(
                errback=self.page_failed
            )
        if not self.pending:
            yield from self.snapshots()

    def needed_pages(self) -> set[Capture]:
        pages = model_captures(self.captures)
        needed = set()
        for browse in self.days:
            for model_id in self.cards.get(browse.timestamp) or {}:
                capture = latest_before(pages.get(model_id, []), browse.day)
                if capture is not None:
                    needed.add(capture)
        return needed

    def parse_page(self, response, capture: Capture):
        html = body_text(response)
        if is_model_page(html):
            self.pages[capture] = html
        else:
            note_failure(self.crawler.stats, "model", f"capture {capture.timestamp} of {capture.original} is not a model page")
            self.pages[capture] = None
        yield from self.page_done()

    def page_failed(self, failure):
        capture = failure.request.cb_kwargs["capture"]
        note_failure(self.crawler.stats, "model", _describe(failure))
        self.pages[capture] = None
        yield from self.page_done()

    def page_done(self):
        self.pending -= 1
        if not self.pending:
            yield from self.snapshots()

    def snapshots(self):
        """One ArchivedSnapshot per readable browse day, oldest first."""
        pages = model_captures(self.captures)
        for browse in self.days:
            cards = self.cards.get(browse.timestamp)
            if cards is None:
                continue
            day = ArchivedSnapshot(browse.instant, browse.timestamp, complete=self.index_complete, errors=list(self.errors))
            for model_id, card in sorted(cards.items()):
                capture = latest_before(pages.get(model_id, []), browse.day)
                if capture is None:
                    day.records.append(card_record(model_id, card, browse))
                elif self.pages.get(capture) is None:
                    day.unreadable.append(model_id)
                    day.errors.append(f"capture {capture.timestamp} of {model_id} unreadable")
                else:
                    day.records.append(extract_model(model_id, self.pages[capture], capture, card))
            yield day
