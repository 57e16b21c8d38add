"""Links to a model's page on its store, from the per-store template declared with the store (StoreConfig.model_page)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

MODEL_ID = "{model_id}"


def model_url(template: str | None, model_id: str) -> str | None:
    """The store's page of `model_id`, or None when the store declares none or the result is not a web URL.

    The id is URL-quoted (its `/` kept, as ids such as `google/bert` are paths); an id with a `.` or `..`
    segment gets no link, so that no id can lead the link out of the store's own pages.
    """
    if not template or MODEL_ID not in template or not model_id:
        return None
    if any(segment in (".", "..") for segment in model_id.split("/")):
        return None
    url = template.replace(MODEL_ID, quote(model_id, safe="/"))
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None
