"""AWS Marketplace extraction, on the reconstructed product pages (snapshots/aws_marketplace)."""

from __future__ import annotations

import json
import random
import re

import pytest

from conftest import snapshot_dir
from spiders.aws_marketplace import (
    DISALLOWED,
    IdentityMismatch,
    extract_listing,
    is_delisted,
    page_context,
    product_ids,
    product_url,
)

PP = "aws.amazon.com/marketplace/pp"


def page(date: str, product_id: str) -> str:
    return (snapshot_dir("aws_marketplace", date) / PP / product_id).read_text()


def record(date: str, product_id: str):
    return extract_listing(product_id, page_context(page(date, product_id)))


def test_sitemap_gives_product_pages_only_and_never_a_search_url():
    sitemap = (snapshot_dir("aws_marketplace", "2026-08-20") / "aws.amazon.com/marketplace/sitemap").read_text()
    ids = product_ids(sitemap)
    assert len(ids) == 11 and ids == sorted(set(ids))
    assert "prodview-zz0reviewonly" not in ids  # named only by a reviews URL: it has no product page
    assert "/marketplace/search" in sitemap
    assert not any(DISALLOWED.match(product_url(product_id)) for product_id in ids)
    robots = (snapshot_dir("aws_marketplace", "2026-08-20") / "aws.amazon.com/robots.txt").read_text()
    assert "Disallow: /marketplace/search*" in robots


def test_sagemaker_algorithm_listing_maps_onto_elements():
    automl = record("2026-08-20", "prodview-b6wz4mtq9hr2e").elements
    assert automl["name"] == "AutoML Tabular Classifier" and automl["provider"] == "Gradient Grove"
    assert automl["version"] == "2.0.0" and automl["updated_at"] == "2026-03-18T16:40:00.000Z"
    assert automl["published_at"] == "2024-11-02T12:00:00.000Z"
    assert [note["version"] for note in automl["release_notes"]] == ["2.0.0", "1.2.1"]
    assert "time-budgeted search" in automl["release_notes"][0]["notes"]
    assert automl["runtime"]["instance_types"] == ["ml.m5.2xlarge", "ml.m5.4xlarge", "ml.m5.large"]
    assert {"dimension": "ml.m5.4xlarge.a.t", "price": "0.90000000"}.items() <= automl["pricing"]["rate_cards"][-1].items()
    assert automl["pricing"]["currency"] == "USD"
    assert automl["terms"] == {
        "eula": [{"type": "StandardEula", "url": automl["terms"]["eula"][0]["url"]}],
        "refund_policy": "No refunds.",
    }
    assert automl["access"]["delivery"] == ["SageMaker Algorithm"]
    assert automl["io_format"] == ["text/csv"]
    assert automl["rating"] == ["awsmp_reviews", "external_reviews", "reviews"]  # no reviews yet: counts of 0, no average
    for absent in ("task", "license", "framework", "size"):
        assert absent not in automl


def test_reviews_trial_and_refund_policy():
    forecasting = record("2026-08-20", "prodview-r4y8ne2kv6dzq")
    assert forecasting.counters == {
        "reviews": 41, "rating": 4.5, "external_reviews": 15, "awsmp_reviews": 41, "awsmp_rating": 4.4, "g2_reviews": 15, "g2_rating": 4.5,
    }
    assert forecasting.elements["rating"] == sorted(forecasting.counters)
    assert forecasting.raw["reviews"]["SyndicatedReviews"] == {"G2": {"ExternalUrl": "https://www.g2.com/products/prodview-r4y8ne2kv6dzq/reviews"}}
    llm = record("2026-08-20", "prodview-m9ga5sk2ud7wx").elements
    assert llm["pricing"]["free_trial"] == "P30D"
    assert llm["terms"]["refund_policy"] == "No refunds after the free trial."


def test_sentinels_are_stripped_and_ai_blocks_never_read():
    face = record("2025-09-01", "prodview-f2n7xk4ds8qlu")
    text = json.dumps({"elements": face.elements, "raw": face.raw})
    assert "!undefined" not in text and "!Date:" not in text
    assert "AI-generated" not in text and "Cloud Backup Manager" not in text
    assert face.elements["source_code"] == "https://github.com/openeye-labs-example/face-lite"
    assert face.elements["access"]["badges"] == ["FREE_TIER"]


def test_queries_are_chosen_by_name_not_position():
    context = page_context(page("2026-08-20", "prodview-k3vq7ztm2xw4a"))
    expected = extract_listing("prodview-k3vq7ztm2xw4a", context)
    random.Random(7).shuffle(context["dehydratedState"]["queries"])
    assert extract_listing("prodview-k3vq7ztm2xw4a", context) == expected
    assert expected.elements["version"] == "CPU"  # the newest option by creationDate, not the last listed


def test_listings_not_delivered_through_sagemaker_are_dropped():
    for saas_ami_api in ("prodview-a4h6tpz8ce3ky", "prodview-v2e5rn8dq4wjh", "prodview-q8u3fb6mz2kns"):
        assert record("2025-09-01", saas_ami_api) is None


def test_delisted_page_and_script_only_page_are_recognised():
    gone = page_context(page("2026-08-20", "prodview-t5c9hm3wa7jgv"))
    assert gone is not None and is_delisted(gone)
    assert not is_delisted(page_context(page("2025-09-01", "prodview-t5c9hm3wa7jgv")))
    assert page_context(page("2025-09-01", "prodview-j7x3wq9lb5tmc")) is None  # must be rendered


def test_a_record_for_another_listing_is_refused():
    context = page_context(page("2025-09-01", "prodview-k3vq7ztm2xw4a"))
    with pytest.raises(IdentityMismatch):
        extract_listing("prodview-p8d2rj5nfy6sc", context)


def test_price_cut_between_the_dates():
    def price(date: str) -> str:
        cards = record(date, "prodview-p8d2rj5nfy6sc").elements["pricing"]["rate_cards"]
        return next(card["price"] for card in cards if card["dimension"] == "ml.g4dn.xlarge.m.i.r")

    assert (price("2025-09-01"), price("2026-08-20")) == ("1.20000000", "0.95000000")
    assert re.fullmatch(r"prodview-[a-z0-9]{13}", "prodview-p8d2rj5nfy6sc")
