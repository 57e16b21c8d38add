"""How a crawl's successes and failures are counted, and how they decide the run's status.

Spiders mark each request as a *listing* request (its answer tells which models exist) or a *model*
request (its answer is one model's record). Counts go to the crawler's stats under `storewatch/`.
"""

from __future__ import annotations

from typing import Any

from storage.wording import plural

LISTING_RESPONSES = "storewatch/listing_responses"
LISTING_FAILURES = "storewatch/listing_failures"
LISTING_MALFORMED = "storewatch/listing_malformed"
MODEL_FAILURES = "storewatch/model_failures"
ERROR_SAMPLES = "storewatch/error_samples"
ARCHIVE_FAILED = "storewatch/archive_failed"  # why writing the web archive failed (webarchive/middleware.py)
SOURCE_INCOMPLETE = "storewatch/source_incomplete"  # why the replayed snapshot is known to be incomplete
MAX_SAMPLES = 5
# Signal sent (response=, exception=) when a listing callback raised: its answer was not the whole listing.
listing_refused = object()


class IncompleteListing(Exception):
    """The store said its listing is incomplete (GitHub truncated a tree, a search hit its cap): the run is
    `partial`, a known gap rather than a suspect document."""


class MalformedListing(Exception):
    """A listing answered 2xx but is not the document the store serves (HTML where JSON or XML is expected,
    a JSON of the wrong shape): the run is `suspect` and removes nothing."""


class UnreadablePage(Exception):
    """A model page answered 2xx but is not what the store's model pages look like (empty, HTML where
    markdown or JSON is expected, required fields missing): the model is kept, counted as an error."""


def archive_failure(error: Exception) -> str:
    """Why writing the web archive failed, in one line (a full disk names the file)."""
    where = f" ({error.filename})" if getattr(error, "filename", None) else ""
    reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0]
    return f"writing the web archive failed{where}: {reason}; the run is not recorded"


def note_failure(stats, kind: str, message: str) -> None:
    """Count a failed listing or model request and keep the first few messages for the run's error summary."""
    stats.inc_value(LISTING_FAILURES if kind == "listing" else MODEL_FAILURES)
    _keep_sample(stats, message)


def note_malformed_listing(stats, message: str) -> None:
    """Count a listing that answered with something other than the store's listing document."""
    stats.inc_value(LISTING_MALFORMED)
    _keep_sample(stats, message)


def _keep_sample(stats, message: str) -> None:
    """Keep the first few distinct messages for the run's error summary (the count says how many there were)."""
    samples = stats.get_value(ERROR_SAMPLES) or []
    message = message[:300]
    if len(samples) < MAX_SAMPLES and message not in samples:
        stats.set_value(ERROR_SAMPLES, [*samples, message])


def run_status(stats: dict[str, Any], close_reason: str) -> str:
    """`complete` only if the crawl finished normally and every listing request was answered with a listing.

    Nothing listed at all, or a web archive that could not be written, is `failed`; a replay of a snapshot
    known to be incomplete (a damaged WARC file) is `partial`; a listing that answered with the wrong document is `suspect`; some
    listings answered but not all (or the crawl was cut short) is `partial`. The snapshot writer may still
    judge a `complete` run `suspect` or `partial` against the store's history (storage/health.py).
    """
    if not stats.get(LISTING_RESPONSES) or stats.get(ARCHIVE_FAILED):
        return "failed"
    if stats.get(LISTING_MALFORMED):
        return "suspect"
    if close_reason != "finished" or stats.get(LISTING_FAILURES) or stats.get(SOURCE_INCOMPLETE):
        return "partial"
    return "complete"


def error_count(stats: dict[str, Any]) -> int:
    return int(stats.get(LISTING_FAILURES, 0)) + int(stats.get(LISTING_MALFORMED, 0)) + int(stats.get(MODEL_FAILURES, 0))


def error_summary(stats: dict[str, Any], close_reason: str) -> str | None:
    parts = [stats[key] for key in (ARCHIVE_FAILED, SOURCE_INCOMPLETE) if stats.get(key)]
    if close_reason != "finished":
        parts.append(f"crawl ended early ({close_reason})")
    if stats.get(LISTING_MALFORMED):
        parts.append(f"{plural(stats[LISTING_MALFORMED], 'listing document')} not in the expected shape")
    if stats.get(LISTING_FAILURES):
        parts.append(f"{plural(stats[LISTING_FAILURES], 'listing request')} failed")
    if stats.get(MODEL_FAILURES):
        parts.append(f"{plural(stats[MODEL_FAILURES], 'model page')} failed")
    parts.extend(stats.get(ERROR_SAMPLES) or [])
    return "; ".join(parts) or None
