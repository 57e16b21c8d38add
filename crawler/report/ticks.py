"""Axis ticks for the report's charts: calendar ticks for time axes, round integer ticks for counts.

A time axis gets the finest calendar step (hours, days, weeks, months, quarters, years, decades...) that puts
no more ticks on it than fit; a count axis gets steps of 1, 2 or 5 times a power of ten, never a fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class DateStep:
    """A calendar step: `count` hours, days, months or years, aligned to round instants (midnight, Mondays for
    weeks, January, April, July and October for quarters, round years)."""

    unit: str  # "hour", "day", "month" or "year"
    count: int

    def floor(self, t: datetime) -> datetime:
        """The last aligned instant at or before `t`."""
        if self.unit == "hour":
            return t.replace(hour=t.hour - t.hour % self.count, minute=0, second=0, microsecond=0)
        midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.unit == "day":  # counted from 1 January of year 1, a Monday: 7 days are weeks from Mondays
            return midnight - timedelta(days=(midnight.toordinal() - 1) % self.count)
        if self.unit == "month":
            return midnight.replace(day=1, month=t.month - (t.month - 1) % self.count)
        return midnight.replace(day=1, month=1, year=max(1, t.year - t.year % self.count))

    def after(self, t: datetime) -> datetime:
        """The next aligned instant after aligned `t` (OverflowError past year 9999)."""
        if self.unit == "hour":
            return t + timedelta(hours=self.count)
        if self.unit == "day":
            return t + timedelta(days=self.count)
        if self.unit == "month":
            months = t.month - 1 + self.count
            year = t.year + months // 12
            if year > 9999:
                raise OverflowError("date past year 9999")
            return t.replace(year=year, month=months % 12 + 1)
        if t.year + self.count > 9999:
            raise OverflowError("date past year 9999")
        return t.replace(year=t.year - t.year % self.count + self.count)

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        """The aligned instants in [start, end], oldest first."""
        found, t = [], self.floor(start)
        while t <= end:
            if t >= start:
                found.append(t)
            try:
                t = self.after(t)
            except OverflowError:
                break
        return found

    def label(self, t: datetime, previous: datetime | None) -> str:
        """A short label; the year (or the date) is spelled out where the reader needs it: on the first tick and
        where it changes."""
        if self.unit == "year":
            return str(t.year)
        if self.unit == "month":
            if previous is None:
                return f"{MONTHS[t.month - 1]} {t.year}"
            return str(t.year) if t.month == 1 else MONTHS[t.month - 1]
        day = f"{t.day} {MONTHS[t.month - 1]}" + (f" {t.year}" if previous is None or previous.year != t.year else "")
        if self.unit == "day" or t.hour == 0:
            return day
        return f"{day} {t.hour:02d}:00" if previous is None else f"{t.hour:02d}:00"


    def period(self, t: datetime) -> str:
        """The period starting at aligned `t`, in words: "2021", "Q3 2021", "Jul 2021", "12 Oct 2022"."""
        if self.unit == "year":
            return str(t.year) if self.count == 1 else f"{t.year}–{t.year + self.count - 1}"
        if self.unit == "month":
            if self.count in (3, 6):
                return f"{'Q' if self.count == 3 else 'H'}{(t.month - 1) // self.count + 1} {t.year}"
            last = MONTHS[t.month + self.count - 2]
            return f"{MONTHS[t.month - 1]}{'–' + last if self.count > 1 else ''} {t.year}"
        day = f"{t.day} {MONTHS[t.month - 1]} {t.year}"
        if self.unit == "day":
            return day if self.count == 1 else f"{self.count} days from {day}"
        return f"{day} {t.hour:02d}:00–{t.hour + self.count:02d}:00"


DATE_STEPS = (
    [DateStep("hour", n) for n in (1, 3, 6, 12)]
    + [DateStep("day", n) for n in (1, 2, 7, 14)]
    + [DateStep("month", n) for n in (1, 2, 3, 6)]
    + [DateStep("year", n) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)]
)


# Periods a heatmap's cells can span: the steps a reader names (a fortnight or two months are not).
PERIOD_STEPS = tuple(step for step in DATE_STEPS if (step.unit, step.count) not in {("day", 2), ("day", 14), ("month", 2)})


def date_step(start: datetime, end: datetime, max_ticks: int, steps: tuple[DateStep, ...] | list[DateStep] = DATE_STEPS) -> DateStep:
    """The finest calendar step of `steps` that puts at most `max_ticks` (and at least one) ticks in [start, end]."""
    for step in steps:
        count = _count_at_most(step, start, end, max_ticks + 1)
        if 1 <= count <= max_ticks:
            return step
    return steps[-1]


def date_ticks(start: datetime, end: datetime, max_ticks: int) -> list[tuple[datetime, str]]:
    """Ticks for a time axis over [start, end]: (instant, label) at calendar boundaries."""
    step = date_step(start, end, max_ticks)
    ticks, previous = [], None
    for t in step.instants(start, end):
        ticks.append((t, step.label(t, previous)))
        previous = t
    return ticks


def _count_at_most(step: DateStep, start: datetime, end: datetime, limit: int) -> int:
    """How many aligned instants of `step` lie in [start, end], counting no further than `limit` (a fine step
    over centuries would otherwise count millions)."""
    rough = (end - start).total_seconds() / {"hour": 3600, "day": 86400, "month": 28 * 86400, "year": 365 * 86400}[step.unit] / step.count
    if rough > 2 * limit + 2:
        return limit
    return len(step.instants(start, end))


def count_ticks(peak: float, max_ticks: int = 5) -> list[int]:
    """Integer ticks from 0 to a round top at or above `peak`: 0, s, 2s... with s = 1, 2 or 5 x 10^k, at most
    `max_ticks` of them (0 included)."""
    if peak <= 0:
        return [0, 1]
    intervals = max(1, max_ticks - 1)
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            if math.ceil(peak / step) <= intervals:
                return list(range(0, math.ceil(peak / step) * step + 1, step))
        magnitude *= 10


def share_ticks(peak: float, max_ticks: int = 5) -> list[float]:
    """Ticks for a share in [0, 1], at whole percentages up to a round top at or above `peak` (at most 100%)."""
    percents = count_ticks(min(100.0, peak * 100), max_ticks)
    if percents[-1] > 100:  # 0, 40, 80, 120 -> 0, 25, 50, 75, 100
        percents = [0, 25, 50, 75, 100]
    return [p / 100 for p in percents]


def number(value: float) -> str:
    """A count with thousands separators; a fraction keeps one decimal."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(share: float) -> str:
    """A share as a percentage: whole percents, or one decimal under 10% (so 0.4% does not read 0%)."""
    value = share * 100
    if value and value < 9.95 and not float(round(value, 1)).is_integer():
        return f"{value:.1f}%"
    return f"{value:.0f}%"
