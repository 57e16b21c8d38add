"""Inline SVG charts for the reports: no scripts, no fonts to fetch; every label is escaped."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
ADDED, REMOVED = "#2ca02c", "#d62728"
FONT = 'font-family="sans-serif" font-size="11"'


def _svg(width: int, height: int, title: str, body: list[Markup]) -> Markup:
    head = Markup('<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{0}" height="{1}" viewBox="0 0 {0} {1}">').format(width, height)
    return head + Markup("<title>{}</title>").format(title) + Markup("").join(body) + Markup("</svg>")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _time_scale(instants: list[datetime], left: float, right: float):
    start, end = min(instants), max(instants)
    if start == end:  # one instant, in the middle (a day either side would overflow at year 9999)
        return lambda t: (left + right) / 2
    span = (end - start).total_seconds()
    return lambda t: left + (right - left) * (t - start).total_seconds() / span


def line_chart(series: dict[str, list[tuple[datetime, float]]], *, title: str, y_label: str, width: int = 680, height: int = 240) -> Markup:
    """One step line per series (the value holds until the next point), with a dot and tooltip per point."""
    points = [point for values in series.values() for point in values]
    if not points:
        return _svg(width, 40, title, [Markup('<text x="8" y="24" {}>no data</text>').format(Markup(FONT))])
    left, right, top, bottom = 56, width - 150, 16, height - 28
    x = _time_scale([t for t, _ in points], left, right)
    y_max = _nice_max(max(v for _, v in points))
    y = lambda v: bottom - (bottom - top) * v / y_max  # noqa: E731
    body = _axes(left, right, top, bottom, y_max, y, y_label, [t for t, _ in points], x)
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        (t0, v0), rest = values[0], values[1:]
        path = f"M{x(t0):.1f} {y(v0):.1f}" + "".join(f" H{x(t):.1f} V{y(v):.1f}" for t, v in rest)
        body.append(Markup('<path d="{}" fill="none" stroke="{}" stroke-width="2"/>').format(path, colour))
        for t, v in values:
            body.append(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{}: {} {}</title></circle>').format(
                    x(t), y(v), colour, name, t.date().isoformat(), _number(v)
                )
            )
        body.append(Markup('<rect x="{}" y="{}" width="10" height="10" fill="{}"/>').format(right + 14, top + 16 * index, colour))
        body.append(Markup('<text x="{}" y="{}" {}>{}</text>').format(right + 28, top + 9 + 16 * index, Markup(FONT), name))
    return _svg(width, height, title, body)


def change_bars(rows: list[tuple[datetime, int, int]], *, title: str, width: int = 680, height: int = 200) -> Markup:
    """Per run: models that arrived (added or returned) above the axis, models removed below it."""
    if not rows:
        return _svg(width, 40, title, [Markup('<text x="8" y="24" {}>no runs</text>').format(Markup(FONT))])
    left, right, top, bottom = 56, width - 150, 12, height - 28
    peak = _nice_max(max(max(up, down) for _, up, down in rows))
    middle = (top + bottom) / 2
    scale = (middle - top) / peak
    slot = (right - left) / len(rows)
    bar = max(2.0, min(24.0, slot * 0.7))
    body = [
        Markup('<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#444"/>').format(left, right, middle, middle),
        Markup('<text x="{}" y="{}" text-anchor="end" {}>+{}</text>').format(left - 4, top + 8, Markup(FONT), _number(peak)),
        Markup('<text x="{}" y="{}" text-anchor="end" {}>-{}</text>').format(left - 4, bottom, Markup(FONT), _number(peak)),
    ]
    for index, (t, up, down) in enumerate(rows):
        cx = left + slot * (index + 0.5)
        label = Markup("{}: +{} / -{}").format(t.date().isoformat(), up, down)
        if up:
            body.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}</title></rect>').format(cx - bar / 2, middle - up * scale, bar, up * scale, ADDED, label))
        if down:
            body.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}</title></rect>').format(cx - bar / 2, middle, bar, down * scale, REMOVED, label))
    body.append(Markup('<text x="{}" y="{}" {}>{}</text>').format(left, height - 8, Markup(FONT), rows[0][0].date().isoformat()))
    body.append(Markup('<text x="{}" y="{}" text-anchor="end" {}>{}</text>').format(right, height - 8, Markup(FONT), rows[-1][0].date().isoformat()))
    for index, (label, colour) in enumerate((("arrived", ADDED), ("removed", REMOVED))):
        body.append(Markup('<rect x="{}" y="{}" width="10" height="10" fill="{}"/>').format(right + 14, top + 16 * index, colour))
        body.append(Markup('<text x="{}" y="{}" {}>{}</text>').format(right + 28, top + 9 + 16 * index, Markup(FONT), label))
    return _svg(width, height, title, body)


def heatmap(rows: list[str], columns: list[str], share: dict[tuple[str, str], float], *, title: str) -> Markup:
    """A grid of shares in [0, 1]: rows (elements) by columns (stores), the darker the larger, the percentage written."""
    cell_w, cell_h, label_w, head_h = 96, 18, 110, 22
    width, height = label_w + cell_w * len(columns) + 8, head_h + cell_h * len(rows) + 8
    body = []
    for j, column in enumerate(columns):
        body.append(Markup('<text x="{}" y="15" text-anchor="middle" {}>{}</text>').format(label_w + cell_w * j + cell_w / 2, Markup(FONT), column))
    for i, row in enumerate(rows):
        top = head_h + cell_h * i
        body.append(Markup('<text x="{}" y="{}" text-anchor="end" {}>{}</text>').format(label_w - 6, top + 13, Markup(FONT), row))
        for j, column in enumerate(columns):
            value = share.get((row, column), 0.0)
            body.append(
                Markup('<rect x="{}" y="{}" width="{}" height="{}" fill="#1f77b4" fill-opacity="{:.2f}" stroke="#fff"><title>{} / {}: {:.0%}</title></rect>').format(
                    label_w + cell_w * j, top, cell_w, cell_h, 0.08 + 0.92 * value if value else 0.03, column, row, value
                )
            )
            if value:
                colour = "#fff" if value > 0.55 else "#000"
                body.append(Markup('<text x="{}" y="{}" text-anchor="middle" fill="{}" {}>{:.0%}</text>').format(label_w + cell_w * j + cell_w / 2, top + 13, colour, Markup(FONT), value))
    return _svg(width, height, title, body)


def _axes(left, right, top, bottom, y_max, y, y_label, instants, x) -> list[Markup]:
    font = Markup(FONT)
    body = [
        Markup('<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#444"/>').format(left, top, bottom),
        Markup('<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="#444"/>').format(left, right, bottom),
        Markup('<text x="10" y="{}" transform="rotate(-90 10 {})" text-anchor="middle" {}>{}</text>').format((top + bottom) / 2, (top + bottom) / 2, font, y_label),
    ]
    for fraction in (0, 0.5, 1):
        value = y_max * fraction
        body.append(Markup('<text x="{}" y="{:.1f}" text-anchor="end" {}>{}</text>').format(left - 4, y(value) + 4, font, _number(value)))
        body.append(Markup('<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#ddd"/>').format(left, right, y(value), y(value)))
    first, last = min(instants), max(instants)
    body.append(Markup('<text x="{:.1f}" y="{}" {}>{}</text>').format(x(first), bottom + 16, font, first.date().isoformat()))
    if last != first:
        body.append(Markup('<text x="{:.1f}" y="{}" text-anchor="end" {}>{}</text>').format(x(last), bottom + 16, font, last.date().isoformat()))
    return body


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
