"""The guards of a cursor-paginated listing (the Hugging Face Hub, Replicate): a cursor that leads back to a page
already read, and a model listed twice.

A listing that drifts while it is walked (its order moves under the cursor) can show a model again on a later
page: the repeat is counted under the store's statistic and only its first record is kept. A `next` cursor
that names a page already followed would walk in a circle: it is a listing failure (the run is partial, so
nothing is removed) and the walk stops there.
"""

from __future__ import annotations

from collections import deque

from crawler.accounting import note_failure


class ListingGuard:
    """Pages followed and ids listed by one crawl of a listing.

    `remembered_pages`: how many pages before the current one a repeat is looked for in (None: every page). A
    store of millions keeps only the last page's ids (two million ids would cost 140 MB); a repeat further apart
    reaches the writer, which keeps the first and counts the rest as duplicates.
    """

    def __init__(self, repeat_stat: str, remembered_pages: int | None = None) -> None:
        self.repeat_stat = repeat_stat
        self.pages: set[str] = set()
        self.page_ids: set[str] = set()
        self.earlier_ids: deque[set[str]] | None = deque(maxlen=remembered_pages) if remembered_pages is not None else None
        self.every_earlier_id: set[str] = set()

    def follow(self, url: str, stats) -> bool:
        """Whether to request the listing page `url`; a page followed already is noted as a listing failure."""
        if url in self.pages:
            note_failure(stats, "listing", f"the listing's next page repeats an earlier one: {url}")
            return False
        self.pages.add(url)
        return True

    def new_page(self) -> None:
        """The ids listed so far become earlier pages' ids (only the remembered pages')."""
        if self.earlier_ids is None:
            self.every_earlier_id |= self.page_ids
        else:
            self.earlier_ids.append(self.page_ids)
        self.page_ids = set()

    def first_listing(self, model_id: str, stats) -> bool:
        """True the first time `model_id` is listed; a repeat is counted and gives False."""
        if model_id in self.page_ids or model_id in self.every_earlier_id or any(model_id in ids for ids in self.earlier_ids or ()):
            stats.inc_value(self.repeat_stat)
            return False
        self.page_ids.add(model_id)
        return True
