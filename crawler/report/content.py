"""What a report says, as plain data (the JSON report): gathered through storage/ functions only."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from crawler.elements import ELEMENTS, element_order
from crawler.report.changes import grouped_changes
from crawler.report.comparison import study_comparison
from crawler.report.links import model_url
from crawler.report.timeseries import time_series
from storage.coverage import coverage_at, coverage_series
from storage.crossstore import compare_elements, match_models
from storage.diff import changes_by_run, diff_store
from storage.models import RECORDED_STATUSES
from storage.events import notable_events
from storage.metrics import top_movers
from storage.queries import list_runs
from storage.runs import is_reconstructed
from storage.timeutil import isoformat, utcnow

LATEST_CHANGES_SHOWN = 60  # changed models listed for a store's latest run
MATCH_GROUPS_SHOWN = 150
MOVERS_SHOWN = 10  # models listed per counter in a store's top movers
VALUE_CHARS = 160


def build_report(
    engine: Engine,
    stores: list[str],
    *,
    since: datetime | None = None,
    titles: dict[str, str] | None = None,
    model_pages: dict[str, str | None] | None = None,
    counters: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The report's content for `stores` (history after `since`, when given); `model_pages`: each store's
    model page URL template (StoreConfig.model_page), for links; `counters`: each store's declared counters
    (StoreConfig.counters, name to description), for its top movers."""
    titles, model_pages, counters = titles or {}, model_pages or {}, counters or {}
    sections = [
        _store_section(engine, store, titles.get(store, store), since, model_pages.get(store), counters.get(store, {})) for store in stores
    ]
    return {
        "generated_at": isoformat(utcnow()),
        "since": isoformat(since),
        "stores": sections,
        "reconstructed": {
            section["store"]: section["reconstructed_runs"] for section in sections if section["reconstructed_runs"]["runs"]
        },
        "model_pages": {store: model_pages.get(store) for store in stores},
        "study_comparison": study_comparison(engine, stores),
        "coverage": _coverage_section(engine, stores, since),
        "cross_store": _cross_store_section(engine, stores),
        **time_series(engine, stores, since, sections),
    }


def _store_section(
    engine: Engine, store: str, title: str, since: datetime | None, model_page: str | None = None, counters: dict[str, str] | None = None
) -> dict[str, Any]:
    by_run = {coverage.run_id: coverage for coverage in coverage_series(engine, store)}
    baseline = coverage_at(engine, store, since) if since else None
    models = baseline.models if baseline else 0
    timeline = []
    runs = list_runs(engine, store)
    for run in runs:
        if run["id"] in by_run:
            models = by_run[run["id"]].models
        if since is None or datetime.fromisoformat(run["observed_at"]) > since:  # instants, not their text ("…00.5Z" < "…00Z")
            timeline.append(
                {key: run[key] for key in ("id", "observed_at", "status", "models_seen", "added", "changed", "removed", "returned", "errors")}
                | {"models": models, "reconstructed": is_reconstructed(run["source"])}
            )
    element_counts = Counter()
    for counts in changes_by_run(engine, store, since).values():
        element_counts.update(counts)
    recorded = [run for run in timeline if run["status"] in RECORDED_STATUSES]
    return {
        "store": store,
        "title": title,
        "baseline": {"observed_at": isoformat(since), "models": baseline.models} if baseline else None,
        "runs": len(timeline),
        "first_observed": timeline[0]["observed_at"] if timeline else None,
        "last_observed": timeline[-1]["observed_at"] if timeline else None,
        "models_now": timeline[-1]["models"] if timeline else models,
        "totals": {key: sum(run[key] for run in timeline) for key in ("added", "changed", "removed", "returned")},
        "timeline": timeline,
        "most_changed_elements": [{"element": key, "models": count} for key, count in element_counts.most_common()],
        "events": notable_events(engine, store, since),
        "latest_changes": _latest_changes(engine, store, recorded, model_page),
        "top_movers": _top_movers(engine, store, counters or {}, recorded, since),
        # over the store's whole history: the models and coverage shown rest on every run
        "reconstructed_runs": {"runs": sum(is_reconstructed(run["source"]) for run in runs), "of": len(runs)},
    }


def _latest_changes(engine: Engine, store: str, recorded: list[dict[str, Any]], model_page: str | None = None) -> dict[str, Any] | None:
    """The diff between the last two recorded runs (the diff module): the first changes with values
    shortened, and every change grouped by pattern (crawler/report/changes.py)."""
    if len(recorded) < 2:
        return None
    before, after = recorded[-2], recorded[-1]
    diff = diff_store(engine, store, datetime.fromisoformat(before["observed_at"]), datetime.fromisoformat(after["observed_at"])).as_dict()
    changed = [
        {"model_id": change["model_id"], "elements": {key: {side: _short(value) for side, value in values.items()} for key, values in change["elements"].items()}}
        for change in diff["changed"][:LATEST_CHANGES_SHOWN]
    ]
    return {
        "from": diff["from"],
        "to": diff["to"],
        "added": diff["added"],
        "removed": diff["removed"],
        "returned": diff["returned"],
        "changed_total": len(diff["changed"]),
        "changed": changed,
        **grouped_changes(diff, lambda model_id: model_url(model_page, model_id)),
    }


def _top_movers(engine: Engine, store: str, counters: dict[str, str], recorded: list[dict[str, Any]], since: datetime | None) -> dict[str, Any] | None:
    """Per declared counter, the models whose value rose most over the report's window: from `since` (or the
    first recorded run) to the last recorded run. None when the store declares no counters or the window holds
    nothing to compare (a single run without `since`)."""
    if not counters or not recorded:
        return None
    start, end = since or datetime.fromisoformat(recorded[0]["observed_at"]), datetime.fromisoformat(recorded[-1]["observed_at"])
    if end <= start:
        return None
    movers = [
        {"metric": metric, "description": description, "models": models}
        for metric, description in counters.items()
        if (models := top_movers(engine, store, start, end, metric, limit=MOVERS_SHOWN))
    ]
    return {"from": isoformat(start), "to": isoformat(end), "metrics": movers}


def _coverage_section(engine: Engine, stores: list[str], since: datetime | None) -> dict[str, Any]:
    latest = compare_elements(engine, stores)
    start = {}
    for store in stores:
        coverage = coverage_at(engine, store, since) if since else None
        if coverage is None or not coverage.models:
            series = coverage_series(engine, store)
            coverage = next((c for c in series if since is None or c.observed_at > since), None)
        if coverage is not None and coverage.models:
            start[store] = {"observed_at": isoformat(coverage.observed_at), "models": coverage.models, "shares": {k: round(coverage.share(k), 4) for k in element_order(coverage.shown())}}
    elements = element_order(set(latest["elements"]) | {key for entry in start.values() for key in entry["shares"]})
    matrix = [
        {
            "element": key,
            "dimension": ELEMENTS.get(key, "other"),
            "stores": {
                store: {"from": start.get(store, {}).get("shares", {}).get(key, 0.0), "to": latest["elements"].get(key, {}).get(store, 0.0)}
                for store in latest["tracked"]
            },
        }
        for key in elements
    ]
    return {
        "stores": latest["stores"],
        "tracked": latest["tracked"],
        "start": start,
        "matrix": matrix,
        "shared": latest["shared"],
        "shared_share": latest["shared_share"],
        "unique": latest["unique"],
    }


def _cross_store_section(engine: Engine, stores: list[str]) -> dict[str, Any]:
    """Models in more than one store: pairs grouped when one side's same-named models match the same way."""
    matches = match_models(engine, stores)
    groups: dict[tuple, dict[str, Any]] = {}
    for match in matches:
        key = (match.a.store, match.a.name, match.b.store, match.b.name, match.score, tuple(match.evidence), tuple(match.conflicts))
        group = groups.setdefault(
            key,
            {
                "score": match.score,
                "verdict": match.verdict,
                "a": {"store": match.a.store, "name": match.a.name, "model_ids": []},
                "b": {"store": match.b.store, "name": match.b.name, "model_ids": []},
                "evidence": match.evidence,
                "conflicts": match.conflicts,
            },
        )
        for side, candidate in (("a", match.a), ("b", match.b)):
            if candidate.model_id not in group[side]["model_ids"]:
                group[side]["model_ids"].append(candidate.model_id)
    by_verdict = defaultdict(int)
    for match in matches:
        by_verdict[match.verdict] += 1
    ordered = list(groups.values())
    return {
        "pairs": len(matches),
        "by_verdict": dict(by_verdict),
        "groups_total": len(ordered),
        "groups": ordered[:MATCH_GROUPS_SHOWN],
    }


def _short(value: Any) -> Any:
    """A changed value as text short enough for a table cell (the JSON diff keeps it whole)."""
    if value is None or isinstance(value, (int, float, bool)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
