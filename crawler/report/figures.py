"""The report's figures: every chart of a report, drawn from its content (the data of report.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from crawler.report.charts import ChurnLane, ChurnRun, Curve, RunMarks, churn_lanes, share_lines, store_timeline, survival_chart
from crawler.report.heatmaps import Cell, PeriodRow, grid, period_heatmap, share_grid
from crawler.report.labels import file_safe, reconstructed_stores, store_label
from crawler.report.ticks import number
from crawler.report.timeseries import sized_runs
from crawler.safetext import strip_controls
from storage.models import RECORDED_STATUSES


def build_charts(content: dict[str, Any]) -> dict[str, Markup]:
    """Every chart of the report, by file-safe name (the SVG file's name without `.svg`)."""
    result = {}
    sections = {section["store"]: section for section in content["stores"]}
    reconstructed = reconstructed_stores(content)
    label = lambda store: store_label(store, reconstructed)  # noqa: E731 -- every store a chart names says if it is reconstructed
    for section in content["stores"]:
        result[f"{file_safe(section['store'])}-timeline"] = _store_timeline(section)
    coverage = content["coverage"]
    share = {(row["element"], label(store)): values["to"] for row in coverage["matrix"] for store, values in row["stores"].items()}
    result["coverage-matrix"] = share_grid(
        [row["element"] for row in coverage["matrix"]], [label(store) for store in coverage["tracked"]], share, title="element coverage by store"
    )
    result["coverage-shared"] = _shared_over_time(content["shared_over_time"])
    result["coverage-over-time"] = period_heatmap(
        [_coverage_row(label(entry["store"]), entry, "mean_coverage", "of the taxonomy's elements shown per model, on average") for entry in content["coverage_over_time"]],
        title="element coverage over time, by store",
    )
    for entry in content["coverage_over_time"]:
        result[f"{file_safe(entry['store'])}-coverage"] = period_heatmap(
            [_coverage_row(element, entry, element, "of the models show it") for element in entry["elements"]],
            title=f"{entry['store']}: share of models showing each element, over time",
        )
    result["churn"] = churn_lanes(
        [_churn_lane(label(entry["store"]), entry, sections[entry["store"]]) for entry in content["churn"] if sections[entry["store"]]["timeline"]],
        title="churn per run, as a share of the store",  # a store with no run in the reported history has no lane
    )
    result["survival"] = survival_chart([_curve(label(entry["store"]), entry) for entry in content["survival"] if entry["models"]], title="how long models stay listed")
    for entry in content["element_changes"]:
        if entry["elements"]:
            result[f"{file_safe(entry['store'])}-element-changes"] = _element_changes(entry)
    return {name: Markup(strip_controls(svg)) for name, svg in result.items()}


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _store_timeline(section: dict[str, Any]) -> Markup:
    baseline = section["baseline"]
    runs = [
        RunMarks(_instant(run["observed_at"]), run["models"], run["added"], run["returned"], run["removed"], run["changed"], run["status"], run["initial"])
        for run in sized_runs(section)
    ]
    return store_timeline(
        runs,
        title=f"{section['store']}: models over time, and per run the models added, returned, removed and changed",
        baseline=(_instant(baseline["observed_at"]), baseline["models"]) if baseline and baseline["models"] else None,
    )


def _shared_over_time(shared: dict[str, Any]) -> Markup:
    series = {
        group["label"]: [(_instant(point["at"]), point["shared_share"]) for point in group["points"] if point["shared_share"] is not None]
        for group in shared["groups"]
    }
    study = any(group["study"] for group in shared["groups"])
    reference = (shared["study_shared_share"], f"the study's {shared['study_shared_share']:.0%} (2019, its three stores)") if study else None
    return share_lines(
        {label: points for label, points in series.items() if points}, title="share of elements every store of a group shows, over time", y_label="shared", reference=reference
    )


def _coverage_row(label: str, entry: dict[str, Any], key: str, detail: str) -> PeriodRow:
    values = [(_instant(point["at"]), point[key] if key == "mean_coverage" else point["shares"].get(key, 0.0)) for point in entry["points"]]
    return PeriodRow(label, values, [_instant(at) for at in entry["runs"]], detail)


def _churn_lane(name: str, entry: dict[str, Any], section: dict[str, Any]) -> ChurnLane:
    recorded = [_instant(run["observed_at"]) for run in section["timeline"] if run["status"] in RECORDED_STATUSES] or [
        _instant(run["observed_at"]) for run in section["timeline"]
    ]
    runs = [ChurnRun(_instant(run["observed_at"]), run["models_before"], run["added"], run["returned"], run["removed"]) for run in entry["runs"]]
    initial = entry["initial_load"]
    return ChurnLane(name, runs, min(recorded), max(recorded), _instant(initial["observed_at"]) if initial else None)


def _curve(name: str, entry: dict[str, Any]) -> Curve:
    steps = [(step["days"], step["listed"], f"{number(step['removed'])} of {number(step['at_risk'])} still followed removed then") for step in entry["steps"]]
    censored = [(mark["days"], mark["listed"]) for mark in entry["censored"]]
    end = max([step[0] for step in steps] + [days for days, _ in censored])
    return Curve(f"{name} ({number(entry['models'])} models, {number(entry['removed'])} removed)", steps, censored, end)


def _element_changes(entry: dict[str, Any]) -> Markup:
    columns, seen = [], set()
    for run in entry["runs"]:
        day = run["observed_at"][:10]
        columns.append(day if day not in seen else f"{day} (run {run['id']})")
        seen.add(day)
    cells = {}
    for row in entry["elements"]:
        for column, run, count in zip(columns, entry["runs"], row["models"]):
            share = count / run["models_before"] if run["models_before"] else 0.0
            tip = f"{row['element']}, {column}: changed for {number(count)} of {number(run['models_before'])} models"
            cells[(row["element"], column)] = Cell(min(1.0, share), number(count) if count else "", tip)
    elements = [row["element"] for row in entry["elements"]]
    cell_w = max(22.0, min(44.0, (900 - 7 * max(len(e) for e in elements)) / max(1, len(columns))))
    note = None if entry["runs_total"] <= len(entry["runs"]) else f"the latest {len(entry['runs'])} of {entry['runs_total']} runs"
    return grid(elements, columns, cells, title=f"{entry['store']}: models changed per element, per run", cell_w=cell_w, rotate_columns=True, note=note)
