"""SVG building blocks for the report's charts: elements, legends, a time scale and the axes drawn from it.

Every piece of text goes through Markup.format, so a label that came from a store is escaped; no script,
font or other file is ever referenced.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup

from crawler.report.ticks import date_ticks, number

FONT = Markup('font-family="sans-serif" font-size="11"')
SMALL = Markup('font-family="sans-serif" font-size="9.5"')
AXIS, GRID, MUTED = "#555", "#e6e6e6", "#666"
TICK_SPACING = 78  # pixels a date label needs


def svg(width: float, height: float, title: str, body: list[Markup]) -> Markup:
    """A standalone SVG element (also written as a file), scaled down on narrow screens."""
    head = Markup(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{0:.0f}" height="{1:.0f}" '
        'viewBox="0 0 {0:.0f} {1:.0f}" style="max-width:100%;height:auto">'
    ).format(width, height)
    return head + Markup("<title>{}</title>").format(title) + Markup("").join(body) + Markup("</svg>")


def text(x: float, y: float, content, *, anchor: str = "start", fill: str = "#222", small: bool = False, bold: bool = False, rotate: float = 0) -> Markup:
    extra = Markup(' font-weight="600"') if bold else Markup("")
    if rotate:
        extra += Markup(' transform="rotate({:.0f} {:.1f} {:.1f})"').format(rotate, x, y)
    return Markup('<text x="{:.1f}" y="{:.1f}" text-anchor="{}" fill="{}" {}{}>{}</text>').format(
        x, y, anchor, fill, SMALL if small else FONT, extra, content
    )


def rect(x: float, y: float, width: float, height: float, fill: str, tip: str | None = None, *, opacity: float = 1.0, stroke: str | None = None) -> Markup:
    attributes = Markup('x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"').format(x, y, max(0.0, width), max(0.0, height), fill)
    if opacity < 1:
        attributes += Markup(' fill-opacity="{:.2f}"').format(opacity)
    if stroke:
        attributes += Markup(' stroke="{}"').format(stroke)
    if tip is None:
        return Markup("<rect {}/>").format(attributes)
    return Markup("<rect {}><title>{}</title></rect>").format(attributes, tip)


def line(x1: float, y1: float, x2: float, y2: float, stroke: str, *, width: float = 1, dash: str | None = None) -> Markup:
    dashed = Markup(' stroke-dasharray="{}"').format(dash) if dash else Markup("")
    return Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="{}"{}/>').format(x1, y1, x2, y2, stroke, width, dashed)


def dot(x: float, y: float, colour: str, tip: str, *, hollow: bool = False, radius: float = 3) -> Markup:
    fill = "#fff" if hollow else colour
    return Markup('<circle cx="{:.1f}" cy="{:.1f}" r="{}" fill="{}" stroke="{}"><title>{}</title></circle>').format(x, y, radius, fill, colour, tip)


def legend(items: list[tuple[str, str, str]], x: float, y: float, right: float) -> tuple[list[Markup], float]:
    """Legend entries `(mark, colour, label)` in rows from (x, y), wrapped before `right`; mark is one of "box",
    "line", "dash", "dot", "ring", "tick". Returns the marks and the baseline of the last row."""
    body, start = [], x
    for mark, colour, label in items:
        width = 24 + 5.5 * len(label)
        if x > start and x + width > right:
            x, y = start, y + 16
        if mark == "box":
            body.append(rect(x, y - 9, 10, 10, colour))
        elif mark in ("line", "dash"):
            body.append(line(x, y - 4, x + 14, y - 4, colour, width=2, dash="4 3" if mark == "dash" else None))
        elif mark == "tick":
            body.append(line(x + 5, y - 9, x + 5, y + 1, colour, width=1.5))
        else:
            body.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}" stroke="{}"/>').format(x + 5, y - 4, "#fff" if mark == "ring" else colour, colour))
        body.append(text(x + 18, y, label))
        x += width + 10
    return body, y


class TimeScale:
    """Instants to x pixels over [left, right]; `pad` pixels are kept free at both ends for marks' widths.

    A span shorter than a day is widened to a day around its middle, so a single instant has an axis too.
    """

    def __init__(self, instants: list[datetime], left: float, right: float, *, pad: float = 0.0) -> None:
        start, end = min(instants), max(instants)
        if end - start < timedelta(days=1):
            start, end = _widened(start, end)
        self.start, self.end, self.left, self.right, self.pad = start, end, left, right, pad
        self._seconds = (end - start).total_seconds()

    def x(self, t: datetime) -> float:
        return self.left + self.pad + (self.right - self.left - 2 * self.pad) * (t - self.start).total_seconds() / self._seconds

    def at(self, x: float) -> datetime:
        """The instant at pixel `x` (inside the year 1 to 9999 range)."""
        seconds = self._seconds * (x - self.left - self.pad) / (self.right - self.left - 2 * self.pad)
        try:
            return self.start + timedelta(seconds=seconds)
        except OverflowError:
            return self.start if seconds < 0 else self.end

    def ticks(self) -> list[tuple[datetime, str]]:
        """Calendar ticks over the whole drawn width, as many as fit."""
        return date_ticks(self.at(self.left), self.at(self.right), max(2, int((self.right - self.left) // TICK_SPACING)))

    def smallest_gap(self, instants: list[datetime]) -> float:
        """The smallest distance in pixels between two distinct instants (the drawn width when there is one)."""
        xs = sorted({self.x(t) for t in instants})
        gaps = [b - a for a, b in zip(xs, xs[1:]) if b - a > 0.01]
        return min(gaps) if gaps else self.right - self.left


def _widened(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    half = (timedelta(days=1) - (end - start)) / 2
    try:
        return start - half, end + half
    except OverflowError:  # at year 1 or 9999: widen on the side there is room
        try:
            return start, start + timedelta(days=1)
        except OverflowError:
            return end - timedelta(days=1), end


def time_axis(scale: TimeScale, top: float, bottom: float, *, labels: bool = True) -> list[Markup]:
    """Light vertical gridlines at the scale's calendar ticks from `top` to `bottom`, labelled under `bottom`."""
    body = []
    for t, label in scale.ticks():
        x = scale.x(t)
        body.append(line(x, top, x, bottom, GRID))
        if labels:
            body.append(line(x, bottom, x, bottom + 4, AXIS))
            half = 3.2 * len(label)  # a label at either end is moved inside the drawing, not cut
            body.append(text(min(max(x, scale.left - 40 + half), scale.right + 14 - half), bottom + 16, label, anchor="middle", fill=MUTED))
    return body


def value_axis(ticks: list[float], y, left: float, right: float, *, label=number, show: list[float] | None = None) -> list[Markup]:
    """Light horizontal gridlines at `ticks` (pixels from `y`), labelled left of `left`."""
    body = []
    for value in ticks:
        body.append(line(left, y(value), right, y(value), GRID))
        if show is None or value in show:
            body.append(text(left - 5, y(value) + 4, label(value), anchor="end", fill=MUTED))
    return body


def axis_title(x: float, top: float, bottom: float, content: str) -> Markup:
    """A y-axis title written upwards, centred on [top, bottom]."""
    return text(x, (top + bottom) / 2, content, anchor="middle", fill=MUTED, rotate=-90)
