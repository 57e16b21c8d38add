"""The report's study comparison, reconstructed marks, CSV tables and model links, on a small recorded history
whose numbers are worked out by hand (on both databases)."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pytest
from parsel import Selector

from crawler.report import build_report, write_report
from crawler.report.links import model_url
from crawler.report.tables import Table, write_tables
from crawler.stores import STORES
from storage.writer import SnapshotWriter

RECONSTRUCTED_SOURCE = "replay:2020-01-01 RECONSTRUCTED from public evidence, not a recording (see SOURCES.md)"
PAGES = {"pytorch_hub": "https://pytorch.org/hub/{model_id}/", "tfhub": "https://tfhub.dev/{model_id}"}
SCRIPT = "<script>window.__injected = 1</script>"
FORMULA = "=HYPERLINK(\"https://evil.example\")"

# store, date, source, models. Each store as last observed shows:
#   aws_marketplace  name description pricing license      (reconstructed: 1 run of 1)
#   modeldepot       name description popularity           (paper no longer shown; reconstructed: 1 run of 2)
#   wolfram_nnr      name description license
#   pytorch_hub      name source_code
#   tfhub            name description source_code
HISTORY = [
    ("aws_marketplace", "2020-01-01", RECONSTRUCTED_SOURCE, {"prodview-a": {"name": "A", "description": "a", "pricing": {"rate": 1}}, "prodview-b": {"name": "B", "license": "EULA"}}),
    ("modeldepot", "2019-01-01", "replay:wayback RECONSTRUCTED Wayback Machine replay capture 20190101", {"u/a": {"name": "A", "description": "a", "popularity": 3, "paper": "https://arxiv.org/abs/1"}}),
    ("modeldepot", "2019-06-01", "live", {"u/a": {"name": "A", "description": "a", "popularity": 4}}),
    ("wolfram_nnr", "2020-01-01", None, {"W-Net": {"name": "W", "description": "w", "license": "MIT"}}),
    ("pytorch_hub", "2020-01-01", None, {"hub_a": {"name": "Hub A", "source_code": "https://github.com/x/a"}}),
    ("pytorch_hub", "2020-02-01", None, {
        "hub_a": {"name": "Hub A", "source_code": "https://github.com/x/a2"},
        "hub_b": {"name": "Hub B", "source_code": "https://github.com/x/b"},
        FORMULA: {"name": "\x1b[31mred\x1b[0m", "source_code": "https://github.com/x/c"},
    }),
    ("tfhub", "2020-01-01", None, {"t/a": {"name": "T", "description": "t", "source_code": "https://github.com/x/t"}}),
]
STORES_IN_REPORT = ["aws_marketplace", "modeldepot", "pytorch_hub", "tfhub", "wolfram_nnr"]


@pytest.fixture
def report(engine, tmp_path) -> tuple[dict, Path]:
    for store, when, source, models in HISTORY:
        writer = SnapshotWriter(engine, store, datetime.fromisoformat(when).replace(tzinfo=timezone.utc), f"{store}/1", source=source)
        writer.start()
        for model_id, elements in models.items():
            writer.add(model_id, elements, {"id": model_id})
        writer.finish("complete")
    content = build_report(engine, STORES_IN_REPORT, model_pages=PAGES)
    out = tmp_path / "report"
    write_report(content, out)
    return content, out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_the_study_comparison_puts_like_beside_like(report):
    content, out = report
    comparison = content["study_comparison"]
    assert comparison["study"]["shared_share"] == 0.65 and comparison["study_stores_missing"] == []
    sets = {row["name"]: row for row in comparison["sets"]}
    # the study's stores: name and description of 5 shown (paper left modeldepot with its last run)
    assert sets["study"]["stores"] == ["aws_marketplace", "modeldepot", "wolfram_nnr"]
    assert (sets["study"]["shared"], sets["study"]["shown"], sets["study"]["shared_share"]) == (["description", "name"], 5, 0.4)
    assert sets["study"]["observed_at"]["modeldepot"].startswith("2019-06-01")
    # the others: name and source_code of name, description, source_code
    assert (sets["others"]["stores"], sets["others"]["shared"], sets["others"]["shared_share"]) == (["pytorch_hub", "tfhub"], ["name", "source_code"], 0.6667)
    # all five: name of 6
    assert (sets["all"]["shared"], sets["all"]["shown"], sets["all"]["shared_share"]) == (["name"], 6, 0.1667)

    rows = read_csv(out / "tables" / "study-comparison.csv")
    assert [(row["set"].split(":")[0], row["shared_share"]) for row in rows] == [("the study", "0.65"), ("study", "0.4"), ("others", "0.6667"), ("all", "0.1667")]
    page = Selector(text=(out / "report.html").read_text())
    shares = page.css("table.comparison td.share::text").getall()
    assert shares == ["65%", "40%", "67%", "17%"]


def test_a_study_store_missing_from_the_report_is_said_so(engine):
    writer = SnapshotWriter(engine, "wolfram_nnr", datetime(2020, 1, 1, tzinfo=timezone.utc), "wolfram_nnr/1")
    writer.start()
    writer.add("W", {"name": "W"}, {})
    writer.finish("complete")
    comparison = build_report(engine, ["wolfram_nnr"])["study_comparison"]
    assert comparison["study_stores_missing"] == ["aws_marketplace", "modeldepot"]
    assert {row["name"]: row["shared_share"] for row in comparison["sets"]} == {"study": None, "others": None, "all": None}


def test_stores_with_reconstructed_runs_are_marked_wherever_they_are_named(report):
    content, out = report
    assert content["reconstructed"] == {"aws_marketplace": {"runs": 1, "of": 1}, "modeldepot": {"runs": 1, "of": 2}}
    page = Selector(text=(out / "report.html").read_text())
    marked = lambda nodes: {node.css("a::attr(href)").get().removeprefix("#store-") for node in nodes if node.css(".badge")}  # noqa: E731
    assert marked(page.css("table.overview tbody td:first-child")) == {"aws_marketplace", "modeldepot"}
    assert {h.css("span.muted::text").re_first(r"\((\w+)\)") for h in page.css("section.store h2") if h.css(".badge")} == {"aws_marketplace", "modeldepot"}
    headers = page.css("table.coverage thead th")
    assert [bool(th.css(".badge")) for th in headers[2:]] == [True, True, False, False, False]
    modeldepot_runs = page.css("#store-modeldepot table.runs tbody tr")
    assert [bool(row.css(".badge")) for row in modeldepot_runs] == [True, False]
    assert page.css("#reconstructed").get() and all(a.attrib["href"] == "#reconstructed" for a in page.css("a.badge"))
    assert "modeldepot 1 of 2" in page.css("#reconstructed").xpath("string()").get()

    markdown = (out / "report.md").read_text()
    assert "## modeldepot (modeldepot) *reconstructed*" in markdown and "## wolfram_nnr (wolfram_nnr)\n" in markdown
    runs = read_csv(out / "tables" / "modeldepot-runs.csv")
    assert [row["reconstructed"] for row in runs] == ["yes", "no"]
    overview = {row["store"]: row["reconstructed_runs"] for row in read_csv(out / "tables" / "overview.csv")}
    assert overview == {"aws_marketplace": "1", "modeldepot": "1", "pytorch_hub": "0", "tfhub": "0", "wolfram_nnr": "0"}
    for name in ("churn", "survival", "coverage-over-time"):  # plain store ids to join on, the mark in a column of its own
        marks = {row["store"]: row["reconstructed"] for row in read_csv(out / "tables" / f"{name}.csv")}
        assert marks.get("aws_marketplace") == "yes" and marks.get("pytorch_hub") == "no", (name, marks)


def test_every_table_has_its_csv_beside_the_report(report):
    content, out = report
    page = Selector(text=(out / "report.html").read_text())
    tables = page.css("table")
    assert len(tables) >= 12
    for table in tables:
        (href,) = table.css("caption a.csv::attr(href)").getall()
        rows = read_csv(out / href)
        shown = len(table.xpath("./tbody/tr[not(td[@colspan])]"))
        if "latest-changes" in href:
            continue  # one row per pattern on the page, one per change in the file (below)
        assert len(rows) == shown, href
    assert f"]({'tables/pytorch_hub-latest-changes.csv'})" in (out / "report.md").read_text()

    changes = read_csv(out / "tables" / "pytorch_hub-latest-changes.csv")
    assert [(row["change"], row["model_id"], row["element"]) for row in changes] == [
        ("added", "'" + FORMULA, ""),  # quoted so that no spreadsheet runs it
        ("added", "hub_b", ""),
        ("changed", "hub_a", "source_code"),
    ]
    assert (changes[2]["old"], changes[2]["new"], changes[2]["url"]) == ("https://github.com/x/a", "https://github.com/x/a2", "https://pytorch.org/hub/hub_a/")


def test_csv_cells_are_sanitised_as_the_cli_does(tmp_path):
    write_tables([Table("tables/t.csv", ["a", "b", "c"], [[FORMULA, "\x1b]8;;https://x\x07link", -3], [None, True, "plain, with comma"]])], tmp_path)
    assert read_csv(tmp_path / "tables" / "t.csv") == [
        {"a": "'" + FORMULA, "b": "]8;;https://xlink", "c": "'-3"},
        {"a": "", "b": "yes", "c": "plain, with comma"},
    ]


def test_changes_show_as_escaped_word_diffs_with_links_to_the_models(report):
    _, out = report
    html = (out / "report.html").read_text()
    assert "<script" not in html.replace("&lt;script", "")
    page = Selector(text=html)
    changes = page.css("#store-pytorch_hub table.changes tbody tr")
    assert len(changes) == 1
    assert changes[0].css("td.pattern ins::text").getall() == ["2"] and not changes[0].css("td.pattern del")
    links = page.css("#store-pytorch_hub a[target]")
    assert {a.attrib["href"] for a in links} == {"https://pytorch.org/hub/hub_a/", "https://pytorch.org/hub/hub_b/", "https://pytorch.org/hub/%3DHYPERLINK%28%22https%3A//evil.example%22%29/"}
    assert all(a.attrib["rel"] == "noopener noreferrer" for a in page.css("a[href^='http']"))
    # no page template given for modeldepot: its ids stay text
    assert page.css("#store-modeldepot table.changes td.ids::text").getall()[0] == "u/a" and not page.css("#store-modeldepot a[target]")


def test_a_hostile_value_shows_as_text_inside_the_diff(engine, tmp_path):
    for when, description in (("2020-01-01", "Plain."), ("2020-02-01", f"Plain. {SCRIPT}")):
        writer = SnapshotWriter(engine, "pytorch_hub", datetime.fromisoformat(when).replace(tzinfo=timezone.utc), "pytorch_hub/1")
        writer.start()
        writer.add("m", {"name": "M", "description": description}, {})
        writer.finish("complete")
    out = tmp_path / "r"
    write_report(build_report(engine, ["pytorch_hub"]), out)
    html = (out / "report.html").read_text()
    assert "<ins> &lt;script&gt;window.__injected = 1&lt;/script&gt;</ins>" in html
    assert Selector(text=html).css("table.changes ins::text").getall() == [f" {SCRIPT}"]
    assert r"Plain. → Plain. \<script\>window.__injected = 1\</script\>" in (out / "report.md").read_text()


def test_model_links_are_web_urls_on_the_stores_own_pages():
    template = "https://pytorch.org/hub/{model_id}/"
    assert model_url(template, "pytorch_vision_resnet") == "https://pytorch.org/hub/pytorch_vision_resnet/"
    assert model_url("https://tfhub.dev/{model_id}", "google/bert en?x#y") == "https://tfhub.dev/google/bert%20en%3Fx%23y"
    assert model_url(template, "../../evil") is None and model_url(template, "a/./b") is None
    assert model_url("javascript:alert(1)//{model_id}", "x") is None and model_url(None, "x") is None and model_url(template, "") is None
    from crawler.runner import spider_class

    for store in STORES:
        url = model_url(spider_class(store).store_config.model_page, "publisher/some-model")
        assert url and url.startswith("https://") and "publisher/some-model" in url, store
