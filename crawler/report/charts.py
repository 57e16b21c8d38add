"""The report's charts over time, as inline SVG: no scripts, no fonts to fetch; every label is escaped.

Time axes carry calendar ticks (crawler/report/ticks.py); counts get integer ticks. Charts drawn one above the
other for the same store share one TimeScale, so a run is at the same x in each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from crawler.report.svg import (
    AXIS, MUTED, TimeScale, axis_title, dot, legend, line, rect, svg, text, time_axis, value_axis,
)
from crawler.report.ticks import count_ticks, number, percent, share_ticks

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
MODELS, ADDED, RETURNED, REMOVED, CHANGED, INITIAL = "#1f77b4", "#2ca02c", "#98df8a", "#d62728", "#9467bd", "#888"
WIDTH = 980
BAR_MIN, BAR_MAX = 4.0, 22.0


@dataclass(frozen=True)
class RunMarks:
    """What one run did to a store, as the store timeline draws it."""

    at: datetime
    models: int  # in the store after the run
    added: int
    returned: int
    removed: int
    changed: int
    status: str = "complete"
    initial: bool = False  # the store's first load: everything in it is "added"


def no_data(title: str, message: str = "no data") -> Markup:
    return svg(WIDTH, 40, title, [text(8, 24, message, fill=MUTED)])


def _bar_width(scale: TimeScale, instants: list[datetime], share: float = 0.7) -> float:
    return max(BAR_MIN, min(BAR_MAX, scale.smallest_gap(instants) * share))


def store_timeline(runs: list[RunMarks], *, title: str, baseline: tuple[datetime, int] | None = None, width: int = WIDTH) -> Markup:
    """Three panels on one time scale: models in the store; models that arrived (added, returned: up) and were
    removed (down) per run; models changed per run. The initial load is marked, not drawn as a bar."""
    if not runs:
        return no_data(title, "no runs")
    left, right = 66, width - 16
    instants = [run.at for run in runs] + ([baseline[0]] if baseline else [])
    scale = TimeScale(instants, left, right, pad=BAR_MAX / 2 + 4)
    bar = _bar_width(scale, instants)
    later = [run for run in runs if not run.initial]
    marks, legend_bottom = legend(
        [("line", MODELS, "models"), ("box", ADDED, "added"), ("box", RETURNED, "returned"), ("box", REMOVED, "removed"), ("box", CHANGED, "changed")]
        + ([("dash", INITIAL, "initial load")] if len(later) < len(runs) else [])
        + ([("ring", MODELS, "run not complete")] if any(run.status != "complete" for run in runs) else []),
        left, 14, right,
    )
    top_a = legend_bottom + 16
    bottom_a = top_a + 150
    top_b, bottom_b = bottom_a + 26, bottom_a + 26 + 130
    top_c, bottom_c = bottom_b + 26, bottom_b + 26 + 80
    body = time_axis(scale, top_a, bottom_c) + marks
    body += _models_panel(runs, baseline, scale, top_a, bottom_a)
    body += _membership_panel(later, scale, bar, top_b, bottom_b)
    body += _changed_panel(later, scale, bar, top_c, bottom_c)
    for run in runs:
        if run.initial:
            x = scale.x(run.at)
            body.append(line(x, top_b, x, bottom_c, INITIAL, dash="4 3"))
            label = f"initial load: {number(run.added + run.returned)} models"
            body.append(text(x + 5 if x < (left + right) / 2 else x - 5, top_b + 12, label, anchor="start" if x < (left + right) / 2 else "end", fill=MUTED))
    body.append(line(left, bottom_c, right, bottom_c, AXIS))
    return svg(width, bottom_c + 26, title, body)


def _models_panel(runs, baseline, scale: TimeScale, top: float, bottom: float) -> list[Markup]:
    points = ([baseline] if baseline else []) + [(run.at, run.models) for run in runs]
    ticks = count_ticks(max(models for _, models in points), 5)
    y = lambda v: bottom - (bottom - top) * v / ticks[-1]  # noqa: E731
    body = value_axis(ticks, y, scale.left, scale.right) + [axis_title(14, top, bottom, "models")]
    (t0, v0), rest = points[0], points[1:]
    path = f"M{scale.x(t0):.1f} {y(v0):.1f}" + "".join(f" H{scale.x(t):.1f} V{y(v):.1f}" for t, v in rest)
    body.append(Markup('<path d="{}" fill="none" stroke="{}" stroke-width="2"/>').format(path, MODELS))
    if baseline:
        body.append(dot(scale.x(baseline[0]), y(baseline[1]), MODELS, f"{_day(baseline[0])}: {number(baseline[1])} models (at the start of the reported history)", hollow=True))
    for run in runs:
        tip = f"{_day(run.at)}: {number(run.models)} models" + ("" if run.status == "complete" else f" ({run.status} run)")
        body.append(dot(scale.x(run.at), y(run.models), MODELS, tip, hollow=run.status != "complete"))
    return body


def _membership_panel(runs: list[RunMarks], scale: TimeScale, bar: float, top: float, bottom: float) -> list[Markup]:
    """Arrivals above a baseline, removals below it, on one scale: removals are a positive count downwards."""
    up_peak = max((run.added + run.returned for run in runs), default=0)
    down_peak = max((run.removed for run in runs), default=0)
    step = count_ticks(max(up_peak, down_peak), 4)[1]
    up_top = -(-up_peak // step) * step or step
    down_top = -(-down_peak // step) * step
    unit = (bottom - top) / (up_top + down_top)
    zero = top + up_top * unit
    body = [axis_title(14, top, bottom, "arrived ↑ removed ↓")]
    body += value_axis(list(range(0, up_top + 1, step)), lambda v: zero - v * unit, scale.left, scale.right)
    body += value_axis(list(range(step, down_top + 1, step)), lambda v: zero + v * unit, scale.left, scale.right)
    for run in runs:
        x = scale.x(run.at) - bar / 2
        tip = f"{_day(run.at)}: {number(run.added)} added, {number(run.returned)} returned, {number(run.removed)} removed"
        if run.added:
            body.append(rect(x, zero - run.added * unit, bar, run.added * unit, ADDED, tip))
        if run.returned:
            body.append(rect(x, zero - (run.added + run.returned) * unit, bar, run.returned * unit, RETURNED, tip))
        if run.removed:
            body.append(rect(x, zero, bar, run.removed * unit, REMOVED, tip))
    body.append(line(scale.left, zero, scale.right, zero, AXIS))
    return body


def _changed_panel(runs: list[RunMarks], scale: TimeScale, bar: float, top: float, bottom: float) -> list[Markup]:
    ticks = count_ticks(max((run.changed for run in runs), default=0), 3)
    y = lambda v: bottom - (bottom - top) * v / ticks[-1]  # noqa: E731
    body = value_axis(ticks, y, scale.left, scale.right) + [axis_title(14, top, bottom, "changed")]
    for run in runs:
        tip = f"{_day(run.at)}: {number(run.changed)} changed"
        if run.changed:
            body.append(rect(scale.x(run.at) - bar / 2, y(run.changed), bar, bottom - y(run.changed), CHANGED, tip))
    return body


def share_lines(
    series: dict[str, list[tuple[datetime, float]]], *, title: str, y_label: str, reference: tuple[float, str] | None = None, width: int = WIDTH
) -> Markup:
    """One step line per series of shares in [0, 1] (a value holds until the next point), with a dot per point
    and an optional dashed reference level."""
    points = [point for values in series.values() for point in values]
    if not points:
        return no_data(title)
    left, right = 66, width - 16
    items = ([("dash", "#444", reference[1])] if reference else []) + [("line", PALETTE[i % len(PALETTE)], name) for i, name in enumerate(series)]
    marks, legend_bottom = legend(items, left, 14, right)
    top = legend_bottom + 16
    bottom = top + 220
    scale = TimeScale([t for t, _ in points], left, right, pad=8)
    ticks = share_ticks(max([v for _, v in points] + ([reference[0]] if reference else [])))
    y = lambda v: bottom - (bottom - top) * v / ticks[-1]  # noqa: E731
    body = time_axis(scale, top, bottom) + value_axis(ticks, y, left, right, label=percent) + [axis_title(14, top, bottom, y_label)] + marks
    if reference:
        body.append(line(left, y(reference[0]), right, y(reference[0]), "#444", dash="6 4"))
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        (t0, v0), rest = values[0], values[1:]
        path = f"M{scale.x(t0):.1f} {y(v0):.1f}" + "".join(f" H{scale.x(t):.1f} V{y(v):.1f}" for t, v in rest)
        body.append(Markup('<path d="{}" fill="none" stroke="{}" stroke-width="2"/>').format(path, colour))
        for t, v in values:
            body.append(dot(scale.x(t), y(v), colour, f"{name}, {_day(t)}: {percent(v)}"))
    body.append(line(left, bottom, right, bottom, AXIS))
    return svg(width, bottom + 26, title, body)


@dataclass(frozen=True)
class Curve:
    """A Kaplan–Meier curve: (days, share still listed, what happened) steps from (0, 1); censored models as
    (days, share)."""

    label: str
    steps: list[tuple[float, float, str]]
    censored: list[tuple[float, float]]
    end: float  # the longest time observed, where the curve stops


def survival_chart(curves: list[Curve], *, title: str, width: int = WIDTH) -> Markup:
    """Step lines of the share of models still listed against days since first seen; a tick per censoring."""
    if not curves:
        return no_data(title)
    left, right = 66, width - 16
    items = [("line", PALETTE[i % len(PALETTE)], curve.label) for i, curve in enumerate(curves)] + [("tick", "#444", "still listed at the last run (censored)")]
    marks, legend_bottom = legend(items, left, 14, right)
    top = legend_bottom + 16
    bottom = top + 260
    x_ticks = count_ticks(max(max(curve.end for curve in curves), 1), 10)
    x = lambda days: left + (right - left) * days / x_ticks[-1]  # noqa: E731
    y_ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    y = lambda share: bottom - (bottom - top) * share  # noqa: E731
    body = value_axis(y_ticks, y, left, right, label=percent) + [axis_title(14, top, bottom, "still listed")] + marks
    for days in x_ticks:
        body += [line(x(days), top, x(days), bottom, "#e6e6e6"), text(x(days), bottom + 16, number(days), anchor="middle", fill=MUTED)]
    body.append(text((left + right) / 2, bottom + 32, "days since first seen", anchor="middle", fill=MUTED))
    for index, curve in enumerate(curves):
        colour = PALETTE[index % len(PALETTE)]
        path = f"M{x(0):.1f} {y(1):.1f}" + "".join(f" H{x(days):.1f} V{y(share):.1f}" for days, share, _ in curve.steps[1:]) + f" H{x(curve.end):.1f}"
        body.append(Markup('<path d="{}" fill="none" stroke="{}" stroke-width="2"/>').format(path, colour))
        for days, share, removed in curve.steps[1:]:
            tip = f"{curve.label}: {percent(share)} still listed after {number(round(days))} days ({removed})"
            body.append(dot(x(days), y(share), colour, tip, radius=2.5))
        for days, share in curve.censored:
            body.append(line(x(days), y(share) - 4, x(days), y(share) + 4, colour, width=1.5))
    body.append(line(left, bottom, right, bottom, AXIS))
    return svg(width, bottom + 40, title, body)


@dataclass(frozen=True)
class ChurnRun:
    at: datetime
    models_before: int
    added: int
    returned: int
    removed: int

    def share(self, count: int) -> float:
        return count / self.models_before if self.models_before else 0.0


@dataclass(frozen=True)
class ChurnLane:
    label: str
    runs: list[ChurnRun]
    first: datetime  # the store's first and last run: the span it was watched
    last: datetime
    initial: datetime | None = None  # its initial load, not churn


def churn_lanes(lanes: list[ChurnLane], *, title: str, width: int = WIDTH) -> Markup:
    """One lane per store on a common time axis: per run, the models added, returned and removed as a share of
    the store before the run, stacked; all lanes on one scale so stores compare."""
    instants = [t for lane in lanes for t in (lane.first, lane.last)]
    if not lanes:
        return no_data(title)
    left, right, lane_h, gap = 52 + 7 * max(len(lane.label) for lane in lanes), width - 16, 64, 18
    marks, legend_bottom = legend(
        [("box", ADDED, "added"), ("box", RETURNED, "returned"), ("box", REMOVED, "removed"), ("dot", INITIAL, "initial load (not churn)")], left, 14, right
    )
    top = legend_bottom + 18
    scale = TimeScale(instants, left, right, pad=BAR_MAX / 2)
    bar = _bar_width(scale, [run.at for lane in lanes for run in lane.runs] or instants, 0.6)
    peak = max((run.share(run.added + run.returned + run.removed) for lane in lanes for run in lane.runs), default=0)
    ticks = share_ticks(peak, 3)
    bottom = top + len(lanes) * (lane_h + gap) - gap
    body = time_axis(scale, top, bottom) + marks
    for index, lane in enumerate(lanes):
        lane_top = top + index * (lane_h + gap)
        zero = lane_top + lane_h
        y = lambda v, zero=zero: zero - lane_h * v / ticks[-1]  # noqa: E731
        body.append(rect(scale.x(lane.first) - 2, lane_top, scale.x(lane.last) - scale.x(lane.first) + 4, lane_h, "#f3f6fa"))
        body += value_axis(ticks, y, left, right, label=percent, show=[ticks[0], ticks[-1]])
        body.append(text(left - 42, zero - lane_h / 2 + 4, lane.label, anchor="end", bold=True))
        if lane.initial:
            body.append(dot(scale.x(lane.initial), zero, INITIAL, f"{lane.label}, {_day(lane.initial)}: initial load"))
        busiest = max(lane.runs, key=lambda run: run.share(run.added + run.returned + run.removed), default=None)
        for run in lane.runs:
            x = scale.x(run.at) - bar / 2
            churn = run.added + run.returned + run.removed
            tip = (
                f"{lane.label}, {_day(run.at)}: {percent(run.share(churn))} of {number(run.models_before)} models "
                f"({number(run.added)} added, {number(run.returned)} returned, {number(run.removed)} removed)"
            )
            if not churn:
                body.append(dot(scale.x(run.at), zero, "#bbb", tip, radius=2))
            level = 0.0
            for count, colour in ((run.added, ADDED), (run.returned, RETURNED), (run.removed, REMOVED)):
                share = run.share(count)
                if count:
                    body.append(rect(x, y(level + share), bar, y(level) - y(level + share), colour, tip))
                level += share
            if run is busiest and churn:
                body.append(text(x + bar + 3, max(lane_top + 10, y(level) + 4), percent(level), fill=MUTED, small=True))
        body.append(line(left, zero, right, zero, AXIS))
    return svg(width, bottom + 26, title, body)


def _day(t: datetime) -> str:
    return t.date().isoformat()
