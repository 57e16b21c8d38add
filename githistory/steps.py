"""Which commits a backfill records: for each interval, the commit at the branch's head at its end."""

from __future__ import annotations

from datetime import date

from crawler.wayback import parse_every, period
from githistory.repository import Commit

EVERY_COMMIT = "commit"


def choose_commits(commits: list[Commit], *, start: date | None, end: date | None, every: str | None) -> list[Commit]:
    """The commits to record, oldest first. `commits` are the branch's, oldest first (with `every` = "commit",
    only those that touched the store's files, each of which is recorded).

    For an interval (1D, 2W, 1M...): the last commit of each interval between --from and --to that has one --
    the branch's head at the interval's end -- and, when the first interval has none, the head as --from began
    (the store as it stood then, observed at its commit's time)."""
    interval = None if every in (None, EVERY_COMMIT) else parse_every(every)
    chosen: list[Commit] = []
    before_start: Commit | None = None
    for commit in commits:
        day = commit.committed_at.date()
        if start and day < start:
            before_start = commit
            continue
        if end and day > end:
            break
        if interval and chosen and period(day, interval) == period(chosen[-1].committed_at.date(), interval):
            chosen[-1] = commit  # a later head within the same interval
            continue
        chosen.append(commit)
    if interval and before_start is not None and (not chosen or period(chosen[0].committed_at.date(), interval) != period(start, interval)):
        chosen.insert(0, before_start)
    return chosen
