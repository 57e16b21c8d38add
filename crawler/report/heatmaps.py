"""Heatmaps for the report, as inline SVG: a grid of cells (rows by columns), and rows over calendar periods.

The darker the cell, the larger its value; the value is written in the cell where it fits and is always in
its tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from crawler.report.svg import AXIS, MUTED, TimeScale, line, rect, svg, text, time_axis
from crawler.report.ticks import PERIOD_STEPS, date_step, percent

BLUE = "#1f77b4"
CELL_MIN = 18  # pixels a period cell needs to be seen
CARRIED = 0.4  # opacity of a period with no run of its own (its value carried from an earlier run)


@dataclass(frozen=True)
class Cell:
    intensity: float  # 0..1: how dark
    label: str  # written in the cell ("" for none)
    tip: str


def _fill(intensity: float) -> float:
    return 0.08 + 0.92 * intensity if intensity else 0.03


def _label_width(labels: list[str]) -> float:
    return 14 + 6.4 * max((len(label) for label in labels), default=4)


def grid(
    rows: list[str], columns: list[str], cells: dict[tuple[str, str], Cell], *, title: str, cell_w: float = 96,
    rotate_columns: bool = False, colour: str = BLUE, note: str | None = None,
) -> Markup:
    """A grid of cells, rows by columns; missing cells are blank. Column heads are written at 45° when
    `rotate_columns` (dates), so that narrow columns still read."""
    cell_h = 18
    label_w = _label_width(rows)
    head_h = 8 + (6.0 * max((len(c) for c in columns), default=4) * 0.72 + 10 if rotate_columns else 16)
    top = head_h + (18 if note else 0)
    overhang = 0.72 * 6.0 * max((len(c) for c in columns), default=0) if rotate_columns else 0  # the last head, written at 45°
    width, height = label_w + cell_w * len(columns) + 8 + overhang, top + cell_h * len(rows) + 8
    body = [text(0, 12, note, fill=MUTED)] if note else []
    for j, column in enumerate(columns):
        x = label_w + cell_w * j + cell_w / 2
        if rotate_columns:
            body.append(text(x + 3, top - 6, column, rotate=-45, fill=MUTED, small=True))
        else:
            body.append(text(x, top - 7, column, anchor="middle"))
    for i, row in enumerate(rows):
        y = top + cell_h * i
        body.append(text(label_w - 6, y + 13, row, anchor="end"))
        for j, column in enumerate(columns):
            cell = cells.get((row, column))
            if cell is None:
                continue
            x = label_w + cell_w * j
            body.append(rect(x, y, cell_w, cell_h, colour, cell.tip, opacity=_fill(cell.intensity), stroke="#fff"))
            if cell.label:
                body.append(text(x + cell_w / 2, y + 13, cell.label, anchor="middle", fill="#fff" if cell.intensity > 0.55 else "#000", small=cell_w < 40))
    return svg(width, height, title, body)


def share_grid(rows: list[str], columns: list[str], share: dict[tuple[str, str], float], *, title: str) -> Markup:
    """Shares in [0, 1], rows by columns (elements by stores), the percentage written in each cell."""
    cells = {
        (row, column): Cell(value, percent(value) if value else "", f"{column} / {row}: {percent(value)}")
        for row in rows
        for column in columns
        for value in [share.get((row, column), 0.0)]
    }
    return grid(rows, columns, cells, title=title, rotate_columns=any(len(column) > 15 for column in columns))  # a long head would run into the next


@dataclass(frozen=True)
class PeriodRow:
    """One row of a period heatmap: a share that holds from each instant on, and the runs that observed it."""

    label: str
    values: list[tuple[datetime, float]]  # oldest first
    runs: list[datetime]
    detail: str = ""  # added to each tooltip


def period_heatmap(rows: list[PeriodRow], *, title: str, width: int = 980) -> Markup:
    """Rows (stores, or one store's elements) over calendar periods on a dated axis: each cell the share as it
    stood at the period's end. A period with no run is pale (carried from an earlier run, no number); before a
    row's first run and after its last one the row is blank."""
    instants = [t for row in rows for t in row.runs + [t for t, _ in row.values]]
    if not instants:
        return svg(width, 40, title, [text(8, 24, "no data", fill=MUTED)])
    label_w = _label_width([row.label for row in rows])
    left, right, top, cell_h = label_w, width - 16, 34, 20
    start, end = min(instants), max(instants)
    step = date_step(start, end, max(1, int((right - left) // CELL_MIN)), PERIOD_STEPS)
    bounds = [step.floor(start)]
    while bounds[-1] <= end:
        try:
            bounds.append(step.after(bounds[-1]))
        except OverflowError:
            bounds.append(end)
            break
    scale = TimeScale([bounds[0], bounds[-1]], left, right)
    bottom = top + cell_h * len(rows)
    body = time_axis(scale, top, bottom)
    body += _swatches(left)
    for i, row in enumerate(rows):
        y = top + cell_h * i
        body.append(text(left - 6, y + 14, row.label, anchor="end"))
        first, last = min(row.runs or [t for t, _ in row.values]), max(row.runs or [t for t, _ in row.values])
        for a, b in zip(bounds, bounds[1:]):
            if b <= first or a > last:
                continue
            held = [v for t, v in row.values if t < b]
            if not held:
                continue
            value, observed = held[-1], any(a <= t < b for t in row.runs)
            x0, x1 = scale.x(a), scale.x(b)
            tip = f"{row.label}, {step.period(a)}: {percent(value)}" + (row.detail and f" {row.detail}") + ("" if observed else " (no run in this period: as last observed)")
            body.append(rect(x0, y, x1 - x0 - 1, cell_h - 1, BLUE, tip, opacity=_fill(value) * (1 if observed else CARRIED)))
            if observed and x1 - x0 >= 19:
                body.append(text((x0 + x1) / 2, y + 14, percent(value).rstrip("%"), anchor="middle", fill="#fff" if value > 0.55 else "#000", small=True))
    body.append(line(left, bottom, right, bottom, AXIS))
    return svg(width, bottom + 26, title, body)


def _swatches(x: float) -> list[Markup]:
    """The colour scale (0% to 100%) and what a pale cell means."""
    body = [text(x, 12, "share:", fill=MUTED)]
    x += 42
    for share in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(rect(x, 3, 22, 12, BLUE, opacity=_fill(share)))
        body.append(text(x + 11, 24, percent(share), anchor="middle", fill=MUTED, small=True))
        x += 26
    body.append(rect(x + 20, 3, 22, 12, BLUE, opacity=_fill(0.5) * CARRIED))
    body.append(text(x + 48, 13, "pale: no run in that period (value as last observed); number: a run's value, in %", fill=MUTED))
    return body
