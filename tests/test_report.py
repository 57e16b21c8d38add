"""`storewatch report`: the content, the three formats, escaping of store strings, and rendering in Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import cli_json, require_chromium, run_cli, snapshot_dir

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
PYTORCH_RAW = "raw.githubusercontent.com/pytorch/hub/master"
SCRIPT = "<script>window.__injected = 'script'</script>"
ONERROR = '<img src=x onerror="window.__injected = \'onerror\'">'


def hostile_snapshot(tmp_path: Path) -> Path:
    """The last PyTorch Hub snapshot a month later, with a model page whose front matter carries markup."""
    copy = tmp_path / "2024-05-31"
    shutil.copytree(snapshot_dir("pytorch_hub", "2024-04-30"), copy)
    page = copy / PYTORCH_RAW / "pytorch_vision_resnet.md"
    text = page.read_text()
    text = text.replace("title: ResNet\n", f"title: {json.dumps('ResNet ' + ONERROR)}\n", 1)
    text = text.replace("summary: Deep residual networks pre-trained on ImageNet\n", f"summary: {json.dumps('Deep residual networks ' + SCRIPT)}\n", 1)
    page.write_text(text)
    meta = json.loads((copy / "SNAPSHOT.json").read_text())
    (copy / "SNAPSHOT.json").write_text(json.dumps({**meta, "observed_at": "2024-05-31T00:00:00Z"}))
    return copy


@pytest.fixture
def report_dir(db_url, tmp_path) -> tuple[Path, str]:
    pytorch = [snapshot_dir("pytorch_hub", d) for d in ("2023-06-30", "2023-12-31", "2024-04-30")] + [hostile_snapshot(tmp_path)]
    run_cli("crawl", "pytorch_hub", *[a for d in pytorch for a in ("--replay", str(d))], db=db_url)
    onnx = [snapshot_dir("onnx_zoo", d) for d in ("2023-07-12", "2023-12-08", "2023-12-26")]
    run_cli("crawl", "onnx_zoo", *[a for d in onnx for a in ("--replay", str(d))], db=db_url)
    run_cli("crawl", "tfhub", "--replay", str(snapshot_dir("tfhub", "2020-12-31")), db=db_url)
    out = tmp_path / "reports"
    printed = run_cli("report", "--out", str(out), db=db_url).stdout
    assert str((out / "report.html").resolve()) in printed
    return out, db_url


def test_report_of_recorded_history(report_dir):
    """One report per database (crawling is the slow part), checked three ways."""
    check_content_matches_the_recorded_history(*report_dir)
    check_markdown_holds_the_same_content_with_store_strings_escaped(report_dir[0])
    check_html_renders_charts_and_tables_in_chromium_and_runs_no_injected_script(report_dir[0])
    check_store_and_since_narrow_the_report(*report_dir)


def check_store_and_since_narrow_the_report(out: Path, db: str) -> None:
    narrow = out.parent / "narrow"
    run_cli("report", "--out", str(narrow), "--store", "onnx_zoo", "--since", "2023-12-01", db=db)
    content = json.loads((narrow / "report.json").read_text())
    (onnx,) = content["stores"]
    assert [run["observed_at"][:10] for run in onnx["timeline"]] == ["2023-12-08", "2023-12-26"]
    assert onnx["baseline"]["models"] == 184 and onnx["totals"]["changed"] == 2 * 184
    assert [(e["observed_at"][:10], e["kind"]) for e in onnx["events"]] == [("2023-12-08", "reorganisation"), ("2023-12-26", "reorganisation")]
    assert content["coverage"]["tracked"] == ["onnx_zoo"] and content["cross_store"]["pairs"] == 0


def check_content_matches_the_recorded_history(out: Path, db: str) -> None:
    content = json.loads((out / "report.json").read_text())
    assert [section["store"] for section in content["stores"]] == ["onnx_zoo", "pytorch_hub", "tfhub"]
    runs = cli_json("runs", db=db)
    listed = {section["store"]: cli_json("models", section["store"], db=db) for section in content["stores"]}
    for section in content["stores"]:
        recorded = [(r["observed_at"], r["added"], r["removed"]) for r in runs if r["store"] == section["store"]]
        assert [(r["observed_at"], r["added"], r["removed"]) for r in section["timeline"]] == recorded
        assert section["models_now"] == len(listed[section["store"]])
    onnx = content["stores"][0]
    assert onnx["most_changed_elements"][0]["element"] == "access"
    assert any(e["kind"] == "reorganisation" and e["element"] == "access" and e["observed_at"].startswith("2023-12-08") for e in onnx["events"])
    assert onnx["latest_changes"]["added"] == [] and onnx["latest_changes"]["changed_total"] == 184
    # the move to validated/ is one pattern of 184 models; the CSV rows keep every change
    (moved,) = onnx["latest_changes"]["patterns"]
    assert (moved["element"], moved["models"], moved["new"]) == ("access", 184, "model_path: validated/….onnx\nmodel_with_data_path: validated/….tar.gz")
    assert len(onnx["latest_changes"]["rows"]) == 184
    pytorch = content["stores"][1]
    assert pytorch["latest_changes"]["changed"][0]["elements"]["description"]["new"].endswith(SCRIPT)

    coverage = content["coverage"]
    tracked = coverage["tracked"]
    for store in tracked:
        models = listed[store]
        for row in coverage["matrix"]:
            shown = sum(row["element"] in model for model in models) / len(models)
            assert row["stores"][store]["to"] == round(shown, 4), (store, row["element"])
    shown_by = {store: {row["element"] for row in coverage["matrix"] if row["stores"][store]["to"] > 0} for store in tracked}
    assert set(coverage["shared"]) == set.intersection(*shown_by.values())
    assert coverage["shared_share"] == round(len(coverage["shared"]) / len(set.union(*shown_by.values())), 4)
    assert coverage["unique"]["onnx_zoo"] == sorted(shown_by["onnx_zoo"] - shown_by["pytorch_hub"] - shown_by["tfhub"])

    matches = content["cross_store"]["groups"]
    likely = {(g["a"]["name"], g["b"]["name"]) for g in matches if g["verdict"] == "likely the same model"}
    assert ("ResNet50", "tensorflow/resnet_50/classification") in likely
    assert all(g["a"]["store"] != g["b"]["store"] and g["evidence"] for g in matches)


def check_markdown_holds_the_same_content_with_store_strings_escaped(out: Path) -> None:
    markdown = (out / "report.md").read_text()
    content = json.loads((out / "report.json").read_text())
    for section in content["stores"]:
        assert f"## {section['title']} ({section['store']})" in markdown
        assert f"charts/{section['store']}-timeline.svg" in markdown and (out / "charts" / f"{section['store']}-timeline.svg").is_file()
    assert "## Element coverage" in markdown and "## Models in more than one store" in markdown
    assert not re.search(r"(?<!\\)<(script|img)", markdown)  # every < from a store is escaped
    assert r"\<script\>window.__injected = 'script'\</script\>" in markdown


def check_html_renders_charts_and_tables_in_chromium_and_runs_no_injected_script(out: Path) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    html = (out / "report.html").read_text()
    assert "<script" not in html.replace("&lt;script", "") and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    content = json.loads((out / "report.json").read_text())
    dialogs, failed_requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.on("requestfailed", lambda request: failed_requests.append(request.url))
            page.goto((out / "report.html").resolve().as_uri())
            page.wait_for_load_state("load")
            charts = page.eval_on_selector_all(
                "svg.chart",
                """svgs => svgs.map(svg => ({width: svg.getBoundingClientRect().width,
                                             height: svg.getBoundingClientRect().height,
                                             folded: svg.closest('details') !== null,
                                             marks: svg.querySelectorAll('path, rect, circle').length}))""",
            )
            run_rows = page.eval_on_selector_all("section.store table.runs", "tables => tables.map(t => t.tBodies[0].rows.length)")
            coverage_rows = page.locator("#coverage table.coverage tbody tr").count()
            match_rows = page.locator("#cross-store table.matches tbody tr").count()
            onnx_changes = page.eval_on_selector_all("#store-onnx_zoo table.changes tbody tr", "rows => rows.map(r => r.cells[2].innerText)")
            inserted = page.eval_on_selector_all("#store-pytorch_hub table.changes ins", "marks => marks.map(m => m.textContent)")
            csv_links = page.eval_on_selector_all("table", "tables => tables.map(t => t.querySelector('caption a.csv') && t.querySelector('caption a.csv').getAttribute('href'))")
            injected = page.evaluate("window.__injected === undefined ? null : window.__injected")
            scripts = page.locator("script").count()
            handlers = page.locator("[onerror]").count()
            body_text = page.inner_text("body")
        finally:
            browser.close()
    assert len(charts) == len(list((out / "charts").glob("*.svg")))  # every chart file is on the page
    shown = [chart for chart in charts if not chart["folded"]]  # the rest are in closed <details>
    assert len(shown) > len(charts) / 2 and all(chart["width"] > 100 and chart["height"] > 30 and chart["marks"] > 0 for chart in shown), charts
    assert run_rows == [len(section["timeline"]) for section in content["stores"]]
    assert coverage_rows == len(content["coverage"]["matrix"]) > 10
    assert match_rows == len(content["cross_store"]["groups"]) > 0
    assert (injected, scripts, handlers, dialogs) == (None, 0, 0, [])
    assert SCRIPT in body_text and "onerror=" in body_text  # shown as text
    assert onnx_changes == ["184"] and any(SCRIPT in text for text in inserted)  # grouped; the new text marked
    assert csv_links and all(link and (out / link).is_file() for link in csv_links), csv_links
    assert not failed_requests


def test_report_mistakes_give_one_line(tmp_path):
    (tmp_path / "x.db").touch()  # an empty database: read commands do not create a missing one
    empty = f"sqlite:///{tmp_path / 'x.db'}"
    for args, message in (
        (["report", "--out", str(tmp_path / "r")], "no store has recorded history yet"),
        (["report", "--out", str(tmp_path / "r"), "--store", "nosuchstore"], "unknown store 'nosuchstore'"),
        (["report", "--out", str(tmp_path / "r"), "--since", "yesterday"], "not a date: 'yesterday'"),
    ):
        result = run_cli(*args, "--db", empty, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
