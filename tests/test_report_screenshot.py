"""The report as a reader sees it: a small recorded history's report screenshotted in headless Chromium, and the
page free of scripts under its Content-Security-Policy."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import pytest

from conftest import run_cli, snapshot_dir
from crawler.browser import find_chromium

HISTORY = {"pytorch_hub": ("2019-06-30", "2019-09-30", "2020-06-30"), "onnx_zoo": ("2023-07-12", "2023-12-08"), "wolfram_nnr": ("2019-03-01", "2024-06-01")}
SECTIONS = ("overview", "coverage", "coverage-over-time", "churn", "survival", "element-changes", "cross-store")


def png_size_and_pixels(path: Path) -> tuple[int, int, bytes]:
    """A PNG's width, height and (filtered) pixel bytes, read with the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, width, height, pixels = 8, 0, 0, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunk = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            pixels += chunk
        position += 12 + length
    return width, height, zlib.decompress(pixels)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshot")
    db = f"sqlite:///{folder / 'storewatch.db'}"
    for store, dates in HISTORY.items():
        run_cli("crawl", store, *(arg for date in dates for arg in ("--replay", str(snapshot_dir(store, date)))), db=db)
    run_cli("report", "--out", str(folder / "report"), db=db)
    return folder / "report"


def test_the_report_screenshots_with_dated_axes_and_the_time_sections(report):
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (make chromium)")
        pytest.skip("needs Chromium: make chromium")
    from playwright.sync_api import sync_playwright

    shot = report / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((report / "report.html").resolve().as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(shot), full_page=True)
            found = page.evaluate(
                """ids => ids.filter(id => document.getElementById(id) && document.getElementById(id).offsetHeight > 100)""", list(SECTIONS)
            )
            axis_labels = page.eval_on_selector_all("#store-pytorch_hub svg.chart text", "texts => texts.map(t => t.textContent)")
            scripts = page.evaluate("document.scripts.length + document.querySelectorAll('[onload], [onerror], [onclick]').length")
        finally:
            browser.close()
    width, height, pixels = png_size_and_pixels(shot)
    assert width == 1280 and 4000 < height < 40000, (width, height)
    assert len(set(pixels)) > 64, "the screenshot is blank"
    assert found == list(SECTIONS)
    assert {"Jul 2019", "Sep", "2020", "Mar"} <= set(axis_labels), axis_labels  # a calendar axis, not first and last dates
    assert "initial load: 23 models" in axis_labels
    assert scripts == 0


def test_the_html_has_no_script_and_a_content_security_policy(report):
    html = (report / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script", html, re.IGNORECASE)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.IGNORECASE), "an event handler attribute"
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert policy and "default-src 'none'" in policy.group(1) and "script-src" not in policy.group(1)
