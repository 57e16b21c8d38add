"""The Internet Archive's Wayback Machine: CDX queries, their resumption, raw captures, choosing capture days.

Pure functions, no Scrapy: spiders build requests with them and tests call them on recorded answers.
CDX reference: internetarchive/wayback `wayback-cdx-server/README.md`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from storage.errors import StorewatchError

CDX_ENDPOINT = "https://web.archive.org/cdx/search/cdx"
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")


@dataclass(frozen=True)
class Capture:
    """One CDX row: a URL as the archive captured it at `timestamp` (yyyyMMddhhmmss, UTC)."""

    urlkey: str
    timestamp: str
    original: str
    mimetype: str
    statuscode: str
    digest: str
    length: str = ""

    @property
    def day(self) -> date:
        return date(int(self.timestamp[:4]), int(self.timestamp[4:6]), int(self.timestamp[6:8]))

    @property
    def instant(self) -> datetime:
        return datetime.strptime(self.timestamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)

    @property
    def path(self) -> str:
        """The captured URL's path without scheme, host, port, query or a trailing slash (`/` stays `/`)."""
        return urlsplit(self.original).path.rstrip("/") or "/"

    @property
    def is_html_page(self) -> bool:
        return self.statuscode == "200" and self.mimetype == "text/html"

    @property
    def raw_url(self) -> str:
        return capture_url(self.timestamp, self.original)


def cdx_url(
    url: str,
    *,
    match_type: str = "prefix",
    collapse: str = "digest",
    from_: str | None = None,
    to: str | None = None,
    limit: int = 1000,
    resume_key: str | None = None,
    fields: bool = True,
) -> str:
    """A CDX query for every capture under `url`, JSON rows, one row per content change, resumable.

    The parameters are always written in the same order, and a resume key is passed back verbatim (it
    arrives already URL-encoded), so the same question is always the same URL.
    """
    query = f"url={quote(url, safe='')}&matchType={match_type}&output=json"
    if fields:  # CDX_FIELDS are also the server's default fields, so a query may leave `fl` out (shorter URLs)
        query += f"&fl={','.join(CDX_FIELDS)}"
    query += f"&collapse={collapse}"
    if from_:
        query += f"&from={from_}"
    if to:
        query += f"&to={to}"
    query += f"&limit={limit}&showResumeKey=true"
    if resume_key:
        query += f"&resumeKey={resume_key}"
    return f"{CDX_ENDPOINT}?{query}"


def parse_cdx(rows: list[list[str]]) -> tuple[list[Capture], str | None]:
    """The captures of one CDX JSON answer, and its resume key (None on the last page).

    With `showResumeKey=true` a page that has more to come ends with `[]` and then `["<key>"]`.
    """
    if not rows:
        return [], None
    resume_key = None
    if len(rows) >= 2 and rows[-2] == [] and len(rows[-1]) == 1:
        resume_key, rows = rows[-1][0], rows[:-2]
    header, *body = rows
    if header[:1] != ["urlkey"] or any(row and len(row) != len(header) for row in body):
        raise ValueError(f"unexpected CDX header {header!r}, or rows that do not match it")
    return [Capture(**dict(zip(header, row))) for row in body if row], resume_key


def capture_url(timestamp: str, original: str) -> str:
    """The raw bytes of a capture (`id_`: no rewriting, no toolbar)."""
    return f"https://web.archive.org/web/{timestamp}id_/{original}"


_EVERY = re.compile(r"^(\d+)([DWMY])$")


def parse_every(every: str | None) -> tuple[int, str] | None:
    """`1M` -> (1, "M"): at most one capture day per that many days, weeks, months or years."""
    if every is None:
        return None
    match = _EVERY.match(every.strip().upper())
    if not match or int(match.group(1)) == 0:
        raise StorewatchError(f"not an interval: {every!r} (use e.g. 1D, 2W, 1M, 1Y)")
    return int(match.group(1)), match.group(2)


def choose_days(
    candidates: list[Capture], *, start: date | None, end: date | None, every: str | None, only: Collection[str] = ()
) -> list[Capture]:
    """Captures to turn into snapshots, oldest first: within [start, end], one per day, then one per interval;
    with `only`, just those of the chosen whose timestamps it holds (a replay of a backfill's archive records
    again the days that backfill recorded)."""
    chosen = _choose(candidates, start, end, every)
    return [capture for capture in chosen if capture.timestamp in only] if only else chosen


def _choose(candidates: list[Capture], start: date | None, end: date | None, every: str | None) -> list[Capture]:
    interval = parse_every(every)
    chosen: list[Capture] = []
    for capture in sorted(candidates, key=lambda c: c.timestamp):
        if (start and capture.day < start) or (end and capture.day > end):
            continue
        if chosen and capture.day == chosen[-1].day:
            chosen[-1] = capture  # the day's last capture
            continue
        if chosen and interval and period(capture.day, interval) == period(chosen[-1].day, interval):
            continue
        chosen.append(capture)
    return chosen


def period(day: date, interval: tuple[int, str]) -> tuple[int, ...]:
    count, unit = interval
    if unit == "Y":
        return (day.year // count,)
    if unit == "M":
        return ((day.year * 12 + day.month - 1) // count,)
    if unit == "W":
        return (day.toordinal() // (7 * count),)
    return (day.toordinal() // count,)


def latest_before(captures: list[Capture], day: date) -> Capture | None:
    """The newest capture on or before `day`."""
    eligible = [capture for capture in captures if capture.day <= day]
    return max(eligible, key=lambda c: c.timestamp) if eligible else None


def rows_of(data: Any) -> list[list[str]]:
    if not isinstance(data, list) or not all(isinstance(row, list) and all(isinstance(cell, str) for cell in row) for row in data):
        raise ValueError("a CDX JSON answer is a list of rows of strings")
    return data
