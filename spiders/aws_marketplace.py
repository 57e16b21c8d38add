"""AWS Marketplace machine-learning listings (SageMaker model packages and algorithms).

The sitemap names every product page; each page carries its record as a dehydrated query cache in
`<script id="vike_pageContext">`. A page without that record is rendered in Chromium (scrapy-playwright)
and read from the DOM. Only listings delivered as a SageMaker model or algorithm are kept. The search UI
(`/marketplace/search*`) is disallowed by robots.txt and never requested.

Identity: `model_id` is the product page id `prodview-<id>`; the product id (`prod-…`) stays in the raw record.

Not a model, because the store says so: a delisted product, which still answers 200 with the default page
(its embedded record's `pageId` is `/lib/frontend/pages/ppV2/default`; it is not yielded, so a complete run
removes it), and a listing whose delivery methods (the Usage query's fulfilment options, or a rendered page's
fulfilment-type field) are all other than SageMaker. Unreadable, so the model is kept: an empty page; an
embedded record cut short, not JSON, without queries or without a Detail query (under any other `pageId`);
a Usage query without fulfilment options; a rendered page without the fulfilment-type field. A sitemap that
is not a whole XML `<urlset>` (an HTML error page, say) is not the listing: the run is suspect.
`storewatch backfill` reads the archive's captures of the sitemap and the product pages (crawler/timetravel.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from parsel import Selector

from crawler.accounting import MalformedListing, UnreadablePage
from crawler.browser import ChromiumMissing, close_page, find_chromium, playwright_settings, render_meta
from crawler.items import ModelRecord
from crawler.timetravel import TimeTravel
from spiders.base import StoreConfig, StoreSpider
from spiders.html import text_of, without_none
from spiders.pages import readable_text

SITEMAP_URL = "https://aws.amazon.com/marketplace/sitemap"
PRODUCT_URL = "https://aws.amazon.com/marketplace/pp/{}"
URLSET = re.compile(r"\A(?:\ufeff)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<urlset[\s>]", re.DOTALL)
PP_LOC = re.compile(r"<loc>https://aws\.amazon\.com/marketplace/pp/(prodview-[a-z0-9]{13})</loc>")
DISALLOWED = re.compile(r"^https?://aws\.amazon\.com/(?:[^/]+/)?marketplace/search")
ML_DELIVERY = frozenset({"SAGEMAKER_MODEL", "SAGEMAKER_ALGORITHM"})
DELISTED_PAGE = "/lib/frontend/pages/ppV2/default"
RENDERED_READY = '#app[data-state="ready"]'
INSTANCE_SUFFIX = re.compile(r"\.(?:m\.i\.r|m\.i\.b|a\.t)$")
# AWS pages refuse obvious bots; say who we are after a browser's product tokens.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 "
    "storewatch/0.1 (+https://github.com/storewatch/storewatch)"
)

STORE = StoreConfig(
    name="aws_marketplace",
    title="AWS Marketplace (SageMaker models and algorithms)",
    identity="product page id prodview-<id> (from the sitemap's /marketplace/pp/ locations)",
    live_urls=(SITEMAP_URL, PRODUCT_URL.format("prodview-<id>")),
    crawled_via="html + browser",
    model_page=PRODUCT_URL.format("{model_id}"),
    download_delay=0.5,
    concurrency=4,
    elements=(
        "name", "description", "provider", "keywords", "version", "published_at", "updated_at", "rating", "usage",
        "io_format", "pricing", "runtime", "access", "terms", "source_code", "support", "release_notes",
    ),
    required_elements=("name", "provider", "access"),
    # Review counts and average ratings move with every review (the forecasting listing: 35 reviews, then 41):
    # counters, not changes of the listing. The rating element names the ones shown, for coverage.
    counters={
        "reviews": "reviews on AWS Marketplace (TotalReviews)",
        "rating": "their average rating, 1-5 (AverageCustomerRating)",
        "external_reviews": "reviews syndicated from other sites (ExternalReviewsCount)",
        "awsmp_reviews": "the AWSMP review summary's count",
        "awsmp_rating": "the AWSMP review summary's average rating",
        "g2_reviews": "reviews on G2 (syndicated)",
        "g2_rating": "their average rating on G2",
    },
    # The default 20 MB: the live sitemap is about 5 MB, so a warning comes when it doubles.
)


class IdentityMismatch(Exception):
    """The page's record is for another listing than the one requested."""


# -- the sitemap --------------------------------------------------------------------------------------------


def product_ids(sitemap: str) -> list[str]:
    """Product page ids in the sitemap (one long line: matched over the whole body), sorted, without repeats.

    MalformedListing when the body is not a whole XML sitemap `<urlset>`."""
    if not URLSET.match(sitemap):
        raise MalformedListing(f"not an XML sitemap <urlset>: {' '.join(sitemap[:80].split())!r}")
    if not sitemap.rstrip().endswith("</urlset>"):
        raise MalformedListing("the sitemap is cut short (no closing </urlset>)")
    return sorted(set(PP_LOC.findall(sitemap)))


def product_url(product_id: str) -> str:
    url = PRODUCT_URL.format(product_id)
    assert not DISALLOWED.match(url)
    return url


# -- the embedded record ------------------------------------------------------------------------------------

_BLOB = re.compile(r'<script id="vike_pageContext" type="application/json">(.*?)</script>', re.DOTALL)


def page_context(html: str) -> dict[str, Any] | None:
    """The page's `vike_pageContext` JSON, or None when the page carries none (it must be rendered)."""
    match = _BLOB.search(html)
    if not match:
        if 'id="vike_pageContext"' in html:
            raise UnreadablePage("embedded record cut short (no closing </script>)")
        return None
    try:
        context = json.loads(match.group(1))
    except ValueError as error:
        raise UnreadablePage(f"embedded record is not JSON: {error}") from None
    if not isinstance(context, dict):
        raise UnreadablePage("embedded record is not a JSON object")
    return context


def is_delisted(context: dict[str, Any]) -> bool:
    """The store's default page, served for a product it no longer lists."""
    return context.get("pageId") == DELISTED_PAGE


def strip_sentinels(value: Any) -> Any:
    """`"!undefined"` becomes None (dropped later); a `"!Date:"` prefix is removed."""
    if isinstance(value, str):
        if value == "!undefined":
            return None
        return value.removeprefix("!Date:")
    if isinstance(value, dict):
        return {key: strip_sentinels(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_sentinels(item) for item in value]
    return value


def listing_queries(context: dict[str, Any]) -> dict[str, Any]:
    """The Detail, Usage, Pricing and reviews data, chosen by query name (their order varies), never by index."""
    found: dict[str, Any] = {}
    queries = (context.get("dehydratedState") or {}).get("queries")
    if not queries or not isinstance(queries, list):
        raise UnreadablePage(f"embedded record of page {context.get('pageId')!r} holds no queries")
    for query in queries:
        if not isinstance(query, dict):
            continue
        key = query.get("queryKey") or []
        params = key[2] if len(key) > 2 and isinstance(key[2], dict) else {}
        data = query.get("state", {}).get("data")
        if key[:2] == ["disco", "get-listing-view"] and params.get("queryName") in ("Detail", "Usage", "Pricing"):
            found[params["queryName"]] = data
        elif len(key) > 1 and key[1] == "reviewsV2":
            found["Reviews"] = data
    return strip_sentinels(found)


def extract_listing(product_id: str, context: dict[str, Any]) -> ModelRecord | None:
    """A listing's record from its embedded context; None for a listing not delivered through SageMaker.

    UnreadablePage when the Detail query or the Usage query's fulfilment options are missing."""
    queries = listing_queries(context)
    detail = queries.get("Detail")
    if not isinstance(detail, dict) or not isinstance(detail.get("listingDetail"), dict):
        raise UnreadablePage("embedded record has no Detail query with a listingDetail")
    if detail.get("id") != product_id:
        raise IdentityMismatch(f"page for {product_id} holds the record of {detail.get('id')!r}")
    usage = ((queries.get("Usage") or {}).get("listingDetail") or {}).get("usage") or {}
    options = sorted(usage.get("fulfillmentOptions") or [], key=lambda option: option.get("creationDate") or "")
    delivery = [option.get("fulfillmentOptionType") or {} for option in options]
    delivered_as = {kind.get("fulfillmentOptionTypeId") for kind in delivery} - {None}
    if not delivered_as:
        raise UnreadablePage("embedded record shows no delivery method (no Usage query with fulfilment options)")
    if not ML_DELIVERY & delivered_as:
        return None
    overview = detail["listingDetail"].get("overview") or {}
    newest = options[-1] if options else {}
    terms = ((queries.get("Pricing") or {}).get("summary") or {}).get("terms") or []
    cards = [card for term in terms if term.get("termType") == "UsageBasedPricingTerm" for card in term.get("rateCards") or []]
    resources = (overview.get("overviewResources") or []) + (usage.get("usageResources") or [])
    reviews = queries.get("Reviews") or {}
    support = (detail["listingDetail"].get("support") or {}).get("supportResources") or []
    elements = {
        "name": overview.get("listingName"),
        "description": overview.get("shortDescription"),
        "provider": (overview.get("creator") or {}).get("creatorName"),
        "keywords": [category.get("categoryName") for category in overview.get("categories") or []],
        "version": newest.get("fulfillmentOptionVersion"),
        "published_at": options[0].get("creationDate") if options else None,
        "updated_at": newest.get("creationDate"),
        "usage": without_none(
            {
                "instructions": newest.get("usageInstructions"),
                "resources": [resource.get("resourceValue") for resource in usage.get("usageResources") or []] or None,
            }
        ),
        "io_format": sorted({kind for option in options for kind in option.get("supportedContentTypes") or []}) or None,
        "pricing": _pricing(terms),
        "runtime": without_none({"instance_types": _instance_types(card.get("dimensionKey") for card in cards), "recommended": newest.get("recommendation")}),
        "access": without_none(
            {
                "delivery": sorted({kind.get("fulfillmentOptionTypeName") for kind in delivery if kind.get("fulfillmentOptionTypeName")}),
                "badges": (detail.get("listingSummaryView") or {}).get("badges") or None,
            }
        ),
        "terms": _terms(terms),
        "support": next((item.get("resourceValue") for item in support if item.get("resourceLabel") == "CREATOR_SUPPORT"), None),
        "release_notes": [
            without_none({"version": option.get("fulfillmentOptionVersion"), "date": option.get("creationDate"), "notes": option.get("releaseNotes")})
            for option in reversed(options)
        ]
        or None,
        "source_code": next((link for link in (r.get("resourceValue") or "" for r in resources) if _on_github(link)), None),
    }
    entities = overview.get("associatedEntities") or []
    raw = {
        "product_id": ((entities[0] if entities else {}).get("product") or {}).get("productId"),
        "long_description": overview.get("longDescription"),
        "highlights": overview.get("highlights"),
        "categories": overview.get("categories"),
        "fulfillment_options": [{key: value for key, value in option.items() if key != "usageInstructions"} for option in options],
        "reviews": review_sources(reviews),
        "offer_id": ((queries.get("Pricing") or {}).get("summary") or {}).get("offerId"),
        "pricing_authored": ((queries.get("Pricing") or {}).get("summary") or {}).get("authoredDate"),
    }
    counters = review_counters(reviews)
    elements["rating"] = sorted(counters) or None
    return ModelRecord(model_id=product_id, elements=without_none(elements) or {}, raw=without_none(raw) or {}, counters=counters)


def review_counters(reviews: dict[str, Any]) -> dict[str, int | float]:
    """The counters of the embedded reviews data: the listing's own count and average, the syndicated count,
    and each review summary's (AWSMP, G2...) count and average, named `<source>_reviews` / `<source>_rating`."""
    counters = _count_and_average("", reviews.get("TotalReviews"), reviews.get("AverageCustomerRating"))
    if reviews.get("ExternalReviewsCount") is not None:
        counters["external_reviews"] = _number(reviews["ExternalReviewsCount"])
    for summary in reviews.get("ProviderSummaries") or []:
        counters |= _count_and_average(f"{str(summary.get('ProviderName', '')).lower()}_", summary.get("Count"), summary.get("AverageRating"))
    for source, summary in (reviews.get("SyndicatedReviews") or {}).items():
        counters |= _count_and_average(f"{source.lower()}_", summary.get("TotalReviews"), summary.get("AverageCustomerRating"))
    return counters


def _count_and_average(prefix: str, count: Any, average: Any) -> dict[str, int | float]:
    """`<prefix>reviews` and `<prefix>rating`; without reviews there is no average (the page shows a 0 or none)."""
    if count is None:
        return {}
    counters = {f"{prefix}reviews": _number(count)}
    if counters[f"{prefix}reviews"] and average is not None:
        counters[f"{prefix}rating"] = _number(average)
    return counters


def review_sources(reviews: dict[str, Any]) -> dict[str, Any] | None:
    """Where the reviews come from (names and links), without the counts and averages `review_counters` keeps."""
    providers = [without_none({"ProviderName": s.get("ProviderName"), "Url": s.get("Url")}) for s in reviews.get("ProviderSummaries") or []]
    syndicated = {source: without_none({"ExternalUrl": s.get("ExternalUrl")}) for source, s in (reviews.get("SyndicatedReviews") or {}).items()}
    return without_none({"ProviderSummaries": providers or None, "SyndicatedReviews": syndicated or None})


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _pricing(terms: list[dict[str, Any]]) -> dict[str, Any] | None:
    pricing: dict[str, Any] = {}
    for term in terms:
        kind = term.get("termType")
        if kind == "UsageBasedPricingTerm":
            pricing["currency"] = term.get("currencyCode")
            pricing.setdefault("rate_cards", []).extend(
                without_none(
                    {
                        "dimension": card.get("dimensionKey"),
                        "name": card.get("displayName"),
                        "option": ((card.get("dimensionLabels") or [{}])[0]).get("value"),
                        "unit": card.get("unit"),
                        "price": card.get("price"),
                    }
                )
                for card in term.get("rateCards") or []
            )
        elif kind == "RecurringPaymentTerm":
            pricing.setdefault("recurring", []).append(without_none({"price": term.get("price"), "period": term.get("billingPeriod")}))
        elif kind == "FreeTrialPricingTerm":
            pricing["free_trial"] = term.get("duration")
        elif kind == "ByolPricingTerm":
            pricing["bring_your_own_license"] = True
    return without_none(pricing)


def _terms(terms: list[dict[str, Any]]) -> dict[str, Any] | None:
    documents = [doc for term in terms if term.get("termType") == "LegalTerm" for doc in term.get("documents") or []]
    refund = next((term.get("refundPolicy") for term in terms if term.get("termType") == "SupportTerm"), None)
    return without_none({"eula": [without_none({"type": d.get("type"), "url": d.get("url")}) for d in documents] or None, "refund_policy": refund})


def _instance_types(dimension_keys) -> list[str] | None:
    return sorted({INSTANCE_SUFFIX.sub("", key) for key in dimension_keys if key}) or None


def _on_github(link: str) -> bool:
    return re.match(r"^https?://(?:www\.)?github\.com/", link) is not None



# -- a rendered page ----------------------------------------------------------------------------------------


def extract_rendered(product_id: str, html: str) -> ModelRecord | None:
    """A listing's record from its rendered DOM (pages without the embedded record); None when not SageMaker.

    UnreadablePage when the render shows no fulfilment-type field (a render with no fields at all, say)."""
    page = Selector(text=html, type="html")

    def field(name: str, attribute: str = "data-value") -> str | None:
        return page.css(f'[data-field="{name}"]').attrib.get(attribute)

    def testid(name: str) -> Selector:
        return page.css(f'[data-testid="{name}"]')

    if not field("fulfillment-type"):
        raise UnreadablePage(f"rendered page shows no fulfillment-type field ({len(page.css('[data-field]'))} fields)")
    if field("fulfillment-type") not in ML_DELIVERY:
        return None
    table = testid("pricing-table")
    rows = table.css("tr")
    cards = [
        without_none(
            {
                "dimension": row.attrib.get("data-dimension-key"),
                "name": text_of(row.css("td.dimension")),
                "option": text_of(row.css("td.option")),
                "unit": row.attrib.get("data-unit"),
                "price": row.css("td.price").attrib.get("data-price"),
            }
        )
        for row in rows
    ]
    rating = testid("rating")
    eula = testid("eula-link")
    version, created = field("version"), field("creation-date")
    elements = {
        "name": text_of(testid("listing-title")),
        "description": text_of(testid("short-description")),
        "provider": text_of(testid("seller-link")),
        "keywords": [part.strip() for part in (field("categories") or "").split(",") if part.strip()] or None,
        "version": version,
        "updated_at": created,
        "usage": without_none({"instructions": text_of(testid("usage-instructions"))}),
        "pricing": without_none({"currency": table.attrib.get("data-currency"), "rate_cards": cards or None}),
        "runtime": without_none({"instance_types": _instance_types(card.get("dimension") for card in cards)}),
        "access": without_none({"delivery": [text_of(page.css('[data-field="fulfillment-type"] dd'))] if field("fulfillment-type") else None}),
        "terms": without_none(
            {
                "eula": [without_none({"type": eula.attrib.get("data-eula-type"), "url": eula.attrib.get("href")})] if eula else None,
                "refund_policy": text_of(testid("refund-policy")),
            }
        ),
        "support": text_of(testid("support")),
        "release_notes": [without_none({"version": version, "date": created, "notes": text_of(testid("release-notes"))})],
    }
    raw = {
        "product_id": field("product-id"),
        "long_description": text_of(testid("long-description")),
        "highlights": testid("highlights").css("li::text").getall() or None,
        "rendered": True,
    }
    counters = review_counters({"TotalReviews": rating.attrib.get("data-count"), "AverageCustomerRating": rating.attrib.get("data-average")})
    elements["rating"] = sorted(counters) or None
    return ModelRecord(model_id=product_id, elements=without_none(elements) or {}, raw=without_none(raw) or {}, counters=counters)


# -- the spider ---------------------------------------------------------------------------------------------


class AwsMarketplaceSpider(TimeTravel, StoreSpider):
    """Sitemap, then each product page over plain HTTP; pages without their record are rendered in Chromium."""

    name = STORE.name
    store_config = STORE
    version = "1"
    custom_settings = {"USER_AGENT": BROWSER_USER_AGENT}

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        chromium = find_chromium(settings.get("STOREWATCH_CHROMIUM"))
        if chromium:
            settings.setdict(playwright_settings(chromium, max_contexts=settings.getint("STOREWATCH_RENDER_CONTEXTS", 2)), priority="spider")
        settings.set("STOREWATCH_RENDERING", bool(chromium), priority="spider")

    async def start(self):
        yield self.listing_request(SITEMAP_URL, self.parse_sitemap)

    def parse_sitemap(self, response):
        for product_id in product_ids(readable_text(response, "an XML sitemap", MalformedListing)):
            yield self.model_request(product_url(product_id), product_id, self.parse_product, cb_kwargs={"product_id": product_id})

    def parse_product(self, response, product_id):
        context = page_context(readable_text(response, "HTML", UnreadablePage))
        if context is None:
            yield self.render_request(product_id)
        elif is_delisted(context):
            self.crawler.stats.inc_value("storewatch/delisted")
        else:
            record = extract_listing(product_id, context)
            if record is not None:
                yield record

    def render_request(self, product_id):
        """The same page again, through Chromium, in a context of its own."""
        if not self.settings.getbool("STOREWATCH_RENDERING"):
            raise ChromiumMissing()
        self.crawler.stats.inc_value("storewatch/rendered_pages")
        request = self.model_request(
            product_url(product_id),
            product_id,
            self.parse_rendered,
            cb_kwargs={"product_id": product_id},
            meta=render_meta(f"render-{product_id}", RENDERED_READY),
            dont_filter=True,
        )
        return request.replace(errback=self.render_failed)

    async def parse_rendered(self, response, product_id):
        await close_page(response.meta)
        record = extract_rendered(product_id, response.text)
        if record is not None:
            yield record

    async def render_failed(self, failure):
        await close_page(failure.request.meta)
        for item in self.model_failed(failure):
            yield item
