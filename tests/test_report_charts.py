"""The report's charts over time: calendar and count ticks, bars aligned with the line above them, the initial
load, the survival estimate, churn, coverage and changes per element (on a small recorded history)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone

import pytest

from crawler.elements import ELEMENTS
from crawler.report.charts import RunMarks, store_timeline
from crawler.report.content import build_report
from crawler.report.figures import build_charts
from crawler.report.heatmaps import PeriodRow, period_heatmap
from crawler.report.ticks import count_ticks, date_ticks
from crawler.report.timeseries import store_groups
from storage.lifetimes import first_listings, kaplan_meier, survival_curve
from storage.writer import SnapshotWriter

SVG = "{http://www.w3.org/2000/svg}"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def day(n: int) -> datetime:
    return utc(2020, 1, 1) + timedelta(days=n)


def parse(svg) -> ElementTree.Element:
    return ElementTree.fromstring(str(svg))


def texts(svg, anchor: str | None = None) -> list[str]:
    """The chart's text labels (only those anchored at `anchor`: "end" for a value axis)."""
    return [element.text or "" for element in parse(svg).iter(f"{SVG}text") if anchor is None or element.get("text-anchor") == anchor]


def tips(svg, tag: str) -> list[tuple[ElementTree.Element, str]]:
    """The `tag` marks (rect, circle) of a chart that have a tooltip, with it."""
    return [(mark, mark.find(f"{SVG}title").text) for mark in parse(svg).iter(f"{SVG}{tag}") if mark.find(f"{SVG}title") is not None]


# -- ticks -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "start, end, labels",
    [
        (utc(2018, 6, 15), utc(2026, 8, 20), ["2019", "2020", "2021", "2022", "2023", "2024", "2025", "2026"]),
        (utc(2021, 8, 20), utc(2023, 12, 26), ["Oct 2021", "2022", "Apr", "Jul", "Oct", "2023", "Apr", "Jul", "Oct"]),
        (utc(2020, 12, 31), utc(2021, 6, 30), ["Jan 2021", "Feb", "Mar", "Apr", "May", "Jun"]),
        (utc(2022, 10, 1), utc(2022, 10, 13), ["1 Oct 2022", "3 Oct", "5 Oct", "7 Oct", "9 Oct", "11 Oct", "13 Oct"]),
        (utc(2022, 12, 30, 6), utc(2023, 1, 2), ["30 Dec 2022 12:00", "31 Dec", "12:00", "1 Jan 2023", "12:00", "2 Jan"]),
    ],
)
def test_time_axes_tick_at_calendar_boundaries_as_finely_as_fits(start, end, labels):
    ticks = date_ticks(start, end, 10)
    assert [label for _, label in ticks] == labels
    assert all(start <= t <= end and t.minute == 0 and t.hour in (0, 12) for t, _ in ticks)
    assert [label for _, label in date_ticks(utc(2022, 12, 30, 6), utc(2023, 1, 2), 4)] == ["31 Dec 2022", "1 Jan 2023", "2 Jan"]


def test_a_long_span_gets_fewer_ticks_and_the_whole_calendar_range_works():
    ticks = date_ticks(utc(2019, 6, 30), utc(2024, 4, 30), 4)
    assert [label for _, label in ticks] == ["2020", "2022", "2024"]
    ticks = date_ticks(datetime.min.replace(tzinfo=timezone.utc), datetime.max.replace(tzinfo=timezone.utc), 8)
    assert 2 <= len(ticks) <= 8 and ticks[-1][1] == "8000"


@pytest.mark.parametrize("peak", [0, 1, 2, 2.5, 3, 7, 11, 45, 184, 859, 1198, 123456])
def test_count_axes_get_round_integer_ticks(peak):
    ticks = count_ticks(peak, 5)
    step = ticks[1]
    assert all(isinstance(t, int) for t in ticks) and ticks[0] == 0 and ticks[-1] >= peak and len(ticks) <= 5
    assert re.fullmatch(r"[125]0*", str(step)) and ticks == list(range(0, ticks[-1] + 1, step))


# -- the store timeline ------------------------------------------------------------------------------------------

RUNS = [
    RunMarks(day(0), 1198, 1198, 0, 0, 0, initial=True),
    RunMarks(day(3), 1200, 3, 0, 1, 2),
    RunMarks(day(4), 1201, 1, 0, 0, 6),
    RunMarks(day(90), 1199, 0, 1, 3, 0),
    RunMarks(day(400), 1199, 2, 0, 2, 1),
]


def test_bars_sit_under_their_run_on_the_line_chart():
    """The same run is at the same x in the models line and in each bar panel, however unequal the gaps."""
    chart = store_timeline(RUNS, title="t")
    dots = {tip[:10]: float(mark.get("cx")) for mark, tip in tips(chart, "circle")}
    bars = [(tip[:10], float(mark.get("x")) + float(mark.get("width")) / 2) for mark, tip in tips(chart, "rect")]
    assert len(dots) == len(RUNS) and len(bars) >= 8
    for date, centre in bars:
        assert centre == pytest.approx(dots[date], abs=0.1), date
    assert sorted(dots.values()) == list(dots.values())  # in time order
    assert (dots["2020-01-05"] - dots["2020-01-04"]) * 50 < dots["2021-02-04"] - dots["2020-03-31"]  # spaced by time, not by run


def test_the_initial_load_is_marked_not_drawn_as_a_bar():
    chart = store_timeline(RUNS, title="t")
    assert "initial load: 1,198 models" in texts(chart)
    assert not any("1,198 added" in tip for _, tip in tips(chart, "rect"))
    arrivals = max(int(mark.get("height").split(".")[0]) for mark, tip in tips(chart, "rect") if tip.startswith("2020-01-04"))
    assert arrivals > 20  # 3 models are a visible bar, not flattened by the 1,198


def test_counts_are_integers_and_removals_positive():
    labels = texts(store_timeline(RUNS, title="t"), anchor="end")
    assert len(labels) > 8 and all(re.fullmatch(r"\d{1,3}(,\d{3})*", label) for label in labels), labels  # no "2.50", no "-0"
    assert [tip for _, tip in tips(store_timeline(RUNS, title="t"), "rect") if tip.startswith("2020-03-31")][0] == (
        "2020-03-31: 0 added, 1 returned, 3 removed"
    )


def test_the_time_axis_is_labelled_with_dates_and_a_single_run_has_one():
    labels = texts(store_timeline(RUNS, title="t"))
    assert {"Jan 2020", "Jul", "2021"} <= set(labels)
    single = texts(store_timeline([RunMarks(utc(9999, 12, 31, 12), 5, 5, 0, 0, 0, initial=True)], title="t"))
    assert "31 Dec" in single and any("9999" in label for label in single)


# -- the period heatmap ------------------------------------------------------------------------------------------

def test_period_cells_hold_the_value_at_the_period_end_pale_where_no_run():
    row = PeriodRow("store", [(utc(2019, 2, 10), 0.5), (utc(2019, 8, 20), 1.0)], [utc(2019, 2, 10), utc(2019, 8, 20)])
    other = PeriodRow("other", [(utc(2019, 1, 5), 0.25)], [utc(2019, 1, 5), utc(2023, 12, 1)])  # 5 years: quarters
    cells = [(tip, float(mark.get("fill-opacity", 1))) for mark, tip in tips(period_heatmap([row, other], title="t"), "rect")]
    store = [(tip.split(": ", 1)[1], opacity) for tip, opacity in cells if tip.startswith("store,")]
    assert [tip for tip, _ in cells if tip.startswith("store,")] == [
        "store, Q1 2019: 50%", "store, Q2 2019: 50% (no run in this period: as last observed)", "store, Q3 2019: 100%"
    ]  # and blank after its last run
    assert store[1][1] < store[0][1] < store[2][1]  # carried is paler than the same value observed
    assert len([tip for tip, _ in cells if tip.startswith("other,")]) == 20


# -- a small recorded history ------------------------------------------------------------------------------------

def record(engine, store: str, when: datetime, present: dict[str, dict]) -> None:
    writer = SnapshotWriter(engine, store, when, f"{store}/1")
    writer.start()
    for model_id, elements in present.items():
        writer.add(model_id, elements, {"id": model_id})
    writer.finish("complete")


def small_history(engine) -> None:
    """a leaves at day 10 and comes back at 20; b leaves at 20; c stays (changed at 20); d arrives at 10."""
    record(engine, "teststore", day(0), {"a": {"name": "A"}, "b": {"name": "B", "license": "MIT"}, "c": {"name": "C"}})
    record(engine, "teststore", day(10), {"b": {"name": "B", "license": "MIT"}, "c": {"name": "C"}, "d": {"name": "D"}})
    record(engine, "teststore", day(20), {"a": {"name": "A"}, "c": {"name": "C2", "license": "GPL"}, "d": {"name": "D"}})
    record(engine, "teststore", day(30), {"a": {"name": "A"}, "c": {"name": "C2", "license": "GPL"}, "d": {"name": "D"}})


def test_kaplan_meier_on_a_hand_computed_example():
    # removed at 10 (x2), censored at 10 (at risk then), 25, 30; removed at 20
    steps = kaplan_meier([(10, True), (10, True), (10, False), (20, True), (25, False), (30, False)])
    assert [(t, round(s, 4), n, d) for t, s, n, d in steps] == [(0, 1.0, 6, 0), (10, round(4 / 6, 4), 6, 2), (20, round(4 / 6 * 2 / 3, 4), 3, 1)]


def test_survival_over_first_listings_censored_at_the_last_run(engine):
    small_history(engine)
    listings = {listing.model_id: (listing.start, listing.end) for listing in first_listings(engine, "teststore")}
    assert listings == {"a": (day(0), day(10)), "b": (day(0), day(20)), "c": (day(0), None), "d": (day(10), None)}
    curve = survival_curve(engine, "teststore").as_dict()
    # a removed after 10 days of 4 at risk: 3/4; b after 20 days with b, c, d at risk (d censored at 20): 3/4 x 2/3
    assert [(step["days"], step["listed"]) for step in curve["steps"]] == [(0, 1.0), (10, 0.75), (20, 0.5)]
    assert curve["censored"] == [{"days": 20, "models": 1, "listed": 0.5}, {"days": 30, "models": 1, "listed": 0.5}]
    assert (curve["models"], curve["removed"], curve["median_days"], curve["censored_at"]) == (4, 2, 20, "2020-01-31T00:00:00Z")
    # after day 5: d (listed from day 10) and a's second listing (from day 20); b and c, listed before, are left
    # out rather than counted from day 5, which would cut their times short
    assert {listing.model_id: (listing.start, listing.end) for listing in first_listings(engine, "teststore", day(5))} == {"a": (day(20), None), "d": (day(10), None)}
    since = survival_curve(engine, "teststore", day(5)).as_dict()
    assert [(step["days"], step["listed"]) for step in since["steps"]] == [(0, 1.0)] and (since["models"], since["removed"]) == (2, 0)


def test_churn_coverage_and_element_changes_of_a_recorded_history(engine):
    small_history(engine)
    content = build_report(engine, ["teststore"])
    (churn,) = content["churn"]
    assert churn["initial_load"] == {"observed_at": "2020-01-01T00:00:00Z", "models": 3}
    assert [(run["added"], run["returned"], run["removed"], run["churn"]) for run in churn["runs"]] == [
        (1, 0, 1, round(2 / 3, 4)), (0, 1, 1, round(2 / 3, 4)), (0, 0, 0, 0.0)
    ]
    (coverage,) = content["coverage_over_time"]
    assert [(p["models"], p["shares"]) for p in coverage["points"]] == [
        (3, {"name": 1.0, "license": round(1 / 3, 4)}), (3, {"name": 1.0, "license": round(1 / 3, 4)}), (3, {"name": 1.0, "license": round(1 / 3, 4)})
    ]
    assert coverage["points"][0]["mean_coverage"] == round((1 + 1 / 3) / len(ELEMENTS), 4)  # the mean over the whole taxonomy
    (changes,) = content["element_changes"]
    assert [run["observed_at"][:10] for run in changes["runs"]] == ["2020-01-11", "2020-01-21", "2020-01-31"]
    assert {row["element"]: row["models"] for row in changes["elements"]} == {"name": [0, 1, 0], "license": [0, 1, 0]}
    charts = build_charts(content)
    cells = {tip: mark.get("fill-opacity") for mark, tip in tips(charts["teststore-element-changes"], "rect")}
    assert "name, 2020-01-21: changed for 1 of 3 models" in cells


def test_shared_elements_are_compared_over_a_fixed_group_from_when_all_of_it_was_observed(engine):
    record(engine, "teststore", day(0), {"a": {"name": "A", "license": "MIT"}})
    record(engine, "otherstore", day(10), {"x": {"name": "X", "paper": "p"}})
    record(engine, "teststore", day(20), {"a": {"name": "A", "license": "MIT", "paper": "q"}})
    content = build_report(engine, ["otherstore", "teststore"])
    (group,) = content["shared_over_time"]["groups"]
    assert group["stores"] == ["otherstore", "teststore"]
    assert [(p["at"][:10], p["shared"], p["shared_share"]) for p in group["points"]] == [
        ("2020-01-11", ["name"], round(1 / 3, 4)), ("2020-01-21", ["name", "paper"], round(2 / 3, 4))
    ]
    groups = store_groups(["aws_marketplace", "modeldepot", "onnx_zoo", "pytorch_hub", "tfhub", "wolfram_nnr"])
    assert [(g["label"], g["stores"]) for g in groups] == [
        ("the study's 3 stores", ["aws_marketplace", "modeldepot", "wolfram_nnr"]),
        ("the other 3 stores", ["onnx_zoo", "pytorch_hub", "tfhub"]),
        ("all 6 stores", ["aws_marketplace", "modeldepot", "onnx_zoo", "pytorch_hub", "tfhub", "wolfram_nnr"]),
    ]


def test_since_half_a_second_after_a_run_leaves_that_run_out_of_the_timeline(engine):
    small_history(engine)  # runs at midnight: their text "…T00:00:00Z" sorts after "…T00:00:00.500000Z"
    content = build_report(engine, ["teststore"], since=day(10) + timedelta(milliseconds=500))
    (section,) = content["stores"]
    assert [run["observed_at"][:10] for run in section["timeline"]] == ["2020-01-21", "2020-01-31"]
