"""What the report shows over time, as plain data: churn per run, element coverage over time, how long models
stay listed, changes per element per run, and the elements a fixed group of stores shares over time.

Gathered through storage/ functions only, from the store sections content.py builds (their `timeline`).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from crawler.elements import ELEMENTS, element_order
from storage.coverage import Coverage, coverage_at, coverage_series
from storage.diff import changes_by_run
from storage.lifetimes import survival_curve
from storage.models import RECORDED_STATUSES
from storage.timeutil import isoformat

# The 2019 study (Xiu, Jiang & Adams) compared these three stores and found they share 65% of the elements shown.
STUDY_STORES = ("aws_marketplace", "modeldepot", "wolfram_nnr")
STUDY_SHARED_SHARE = 0.65
ELEMENT_CHANGE_RUNS = 40  # the latest runs shown in a store's changes-per-element heatmap


def time_series(engine: Engine, stores: list[str], since: datetime | None, sections: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's time-series content, for `stores` whose store sections are `sections`."""
    by_store = {section["store"]: section for section in sections}
    changes = [element_changes(engine, store, since, by_store[store]) for store in stores]
    return {
        "churn": [churn(by_store[store]) for store in stores],
        "coverage_over_time": [coverage_over_time(engine, store, since, by_store[store]) for store in stores],
        "survival": [survival_curve(engine, store, since).as_dict() for store in stores],
        "element_changes": sorted(changes, key=lambda entry: -entry["changes"]),
        "shared_over_time": shared_over_time(engine, stores, since),
    }


def sized_runs(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The store's runs with the models it held before each (`models_before`) and whether the run was its
    initial load (`initial`: the first run that found models, everything in it "added")."""
    before = section["baseline"]["models"] if section["baseline"] else 0
    loaded = before > 0
    result = []
    for run in section["timeline"]:
        initial = not loaded and run["status"] in RECORDED_STATUSES and run["added"] > 0
        loaded = loaded or initial
        result.append(run | {"models_before": before, "initial": initial})
        before = run["models"]
    return result


def churn(section: dict[str, Any]) -> dict[str, Any]:
    """Per recorded run after the initial load: models added, returned and removed, and their sum as a share of
    the models the store held before the run."""
    runs, initial = [], None
    for run in sized_runs(section):
        if run["initial"]:
            initial = {"observed_at": run["observed_at"], "models": run["models"]}
        elif run["status"] in RECORDED_STATUSES and run["models_before"]:
            moved = run["added"] + run["returned"] + run["removed"]
            runs.append(
                {key: run[key] for key in ("id", "observed_at", "models_before", "added", "returned", "removed")}
                | {"churn": round(moved / run["models_before"], 4)}
            )
    busiest = max(runs, key=lambda run: run["churn"], default=None)
    return {
        "store": section["store"],
        "initial_load": initial,
        "runs": runs,
        "mean": round(sum(run["churn"] for run in runs) / len(runs), 4) if runs else None,
        "max": {"observed_at": busiest["observed_at"], "churn": busiest["churn"]} if busiest else None,
    }


def coverage_over_time(engine: Engine, store: str, since: datetime | None, section: dict[str, Any]) -> dict[str, Any]:
    """The store's coverage after each run that changed it (from the start of the history, or `since`): the
    share of models showing each element, and the mean of those shares over the taxonomy's elements."""
    series = [coverage for coverage in coverage_series(engine, store) if since is None or coverage.observed_at > since]
    baseline = coverage_at(engine, store, since) if since else None
    if baseline is not None and baseline.models:
        baseline.observed_at = since
        series.insert(0, baseline)
    points = [
        {
            "at": isoformat(coverage.observed_at),
            "models": coverage.models,
            "elements_shown": len(coverage.shown() & ELEMENTS.keys()),
            "mean_coverage": round(sum(coverage.share(key) for key in ELEMENTS) / len(ELEMENTS), 4),
            "shares": {key: round(coverage.share(key), 4) for key in element_order(coverage.shown())},
        }
        for coverage in series
        if coverage.models
    ]
    return {
        "store": store,
        "runs": [run["observed_at"] for run in section["timeline"] if run["status"] in RECORDED_STATUSES],
        "elements": element_order({key for point in points for key in point["shares"]}),
        "points": points,
    }


def element_changes(engine: Engine, store: str, since: datetime | None, section: dict[str, Any]) -> dict[str, Any]:
    """For the store's latest recorded runs after its initial load: how many models each element changed for."""
    counts = changes_by_run(engine, store, since)
    runs = [run for run in sized_runs(section) if run["status"] in RECORDED_STATUSES and not run["initial"]]
    shown = runs[-ELEMENT_CHANGE_RUNS:]
    elements = element_order({key for run in shown for key in counts.get(run["id"], {})})
    return {
        "store": store,
        "runs_total": len(runs),
        "runs": [{key: run[key] for key in ("id", "observed_at", "models_before", "changed")} for run in shown],
        "elements": [_element_row(key, [counts.get(run["id"], {}).get(key, 0) for run in shown], shown) for key in elements],
        "changes": sum(sum(counter.values()) for counter in counts.values()),
    }


def _element_row(element: str, models: list[int], runs: list[dict[str, Any]]) -> dict[str, Any]:
    largest = max(range(len(runs)), key=lambda index: models[index])
    return {
        "element": element,
        "models": models,
        "total": sum(models),
        "runs_with_changes": sum(1 for count in models if count),
        "largest": {"observed_at": runs[largest]["observed_at"], "models": models[largest], "models_before": runs[largest]["models_before"]},
    }


def store_groups(stores: list[str]) -> list[dict[str, Any]]:
    """Fixed groups of stores to compare over time: the study's stores, the others, and all of them (each when
    it holds two stores or more and differs from the groups before it)."""
    study = [store for store in stores if store in STUDY_STORES]
    others = [store for store in stores if store not in STUDY_STORES]
    groups = []
    for label, members in ((f"the study's {len(study)} stores", study), (f"the other {len(others)} stores", others), (f"all {len(stores)} stores", stores)):
        if len(members) >= 2 and all(group["stores"] != members for group in groups):
            groups.append({"label": label, "stores": members, "study": members == study})
    return groups


def shared_over_time(engine: Engine, stores: list[str], since: datetime | None) -> dict[str, Any]:
    """For each fixed group of stores, from the instant the last of them was first observed: the share of the
    elements any of them shows that all of them show, each store as last observed at that instant."""
    series = {store: [c for c in coverage_series(engine, store) if c.models] for store in stores}
    groups = []
    for group in store_groups(stores):
        members = group["stores"]
        changed = {c.observed_at for store in members for c in series[store] if since is None or c.observed_at > since}
        instants = sorted(changed | ({since} if since else set()))
        points = []
        for instant in instants:
            states = [_as_of(series[store], instant) for store in members]
            if any(state is None for state in states):
                continue  # a store of the group not observed yet: the group's line starts later
            shown = [state.shown() for state in states]
            union, shared = set().union(*shown), set.intersection(*shown)
            points.append({"at": isoformat(instant), "shared": sorted(shared), "elements": len(union), "shared_share": round(len(shared) / len(union), 4) if union else None})
        groups.append(group | {"points": points})
    return {"groups": groups, "study_stores": list(STUDY_STORES), "study_shared_share": STUDY_SHARED_SHARE}


def _as_of(series: list[Coverage], instant: datetime) -> Coverage | None:
    index = bisect_right([c.observed_at for c in series], instant)
    return series[index - 1] if index else None
