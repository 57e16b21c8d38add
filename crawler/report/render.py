"""Rendering a report's content as HTML (self-contained, inline SVG), Markdown and JSON.

Store text is escaped by the templates; control characters are stripped from every rendered HTML, SVG and
Markdown text as a whole (they are kept in report.json, as \\u escapes), so no field can bring one in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from crawler.report import ticks
from crawler.report.figures import build_charts
from crawler.report.labels import RECONSTRUCTED_NOTE, file_safe, reconstructed_stores, store_label
from crawler.report.links import model_url
from crawler.report.tables import report_tables, table_file, write_tables
from crawler.safetext import json_text, strip_controls
from storage.wording import plural

HTML_FILE, MARKDOWN_FILE, JSON_FILE, CHARTS_DIR = "report.html", "report.md", "report.json", "charts"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|<>])")


def markdown_escape(value: Any) -> str:
    """A value as inert Markdown text on one line: no markup, links, HTML or table breaks can come from it."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return str(value)
    text = value if isinstance(value, str) else (json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value))
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))
    return " ".join(text.split())


def day(value: str | None) -> str:
    return value[:10] if value else ""


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def cell(value: Any) -> str:
    """A JSON value as table text."""
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _environment(*, markdown: bool) -> Environment:
    environment = Environment(
        loader=PackageLoader("crawler.report", "templates"),
        autoescape=not markdown,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=markdown_escape if markdown else None,
    )
    environment.filters.update(day=day, percent=percent, cell=cell, number=ticks.number, share=ticks.percent, plural=plural)
    return environment


def render_html(content: dict[str, Any], chart_markup: dict[str, Markup] | None = None) -> str:
    chart_markup = chart_markup or build_charts(content)
    return _render("report.html.j2", report=content, charts=chart_markup, safe=file_safe, **_naming(content))


def render_markdown(content: dict[str, Any]) -> str:
    return _render("report.md.j2", report=content, charts_dir=CHARTS_DIR, safe=file_safe, **_naming(content))


def _naming(content: dict[str, Any]) -> dict[str, Any]:
    """What the templates name stores, models and tables with: reconstructed marks, model links, CSV paths."""
    reconstructed = reconstructed_stores(content)
    pages = content.get("model_pages", {})
    return {
        "reconstructed": reconstructed,
        "reconstructed_note": RECONSTRUCTED_NOTE,
        "store_label": lambda store: store_label(store, reconstructed),
        "model_url": lambda store, model_id: model_url(pages.get(store), model_id),
        "table_file": table_file,
    }


def render_diff_markdown(diff: dict[str, Any]) -> str:
    """`storewatch diff --format markdown`."""
    return _render("diff.md.j2", diff=diff)


def render_compare_markdown(comparison: dict[str, Any], matches: list[dict[str, Any]]) -> str:
    """`storewatch compare --format markdown`."""
    return _render("compare.md.j2", comparison=comparison, matches=matches)


def _render(template: str, **values: Any) -> str:
    environment = _environment(markdown=template.endswith(".md.j2"))
    return strip_controls(environment.get_template(template).render(**values))


def write_report(content: dict[str, Any], out: Path) -> Path:
    """Write report.html, report.md (with its charts as SVG files), report.json and tables/*.csv into `out`;
    the HTML's path."""
    out.mkdir(parents=True, exist_ok=True)
    chart_markup = build_charts(content)
    (out / CHARTS_DIR).mkdir(exist_ok=True)
    for name, svg in chart_markup.items():
        (out / CHARTS_DIR / f"{name}.svg").write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg) + "\n", encoding="utf-8")
    (out / HTML_FILE).write_text(render_html(content, chart_markup), encoding="utf-8")
    (out / MARKDOWN_FILE).write_text(render_markdown(content), encoding="utf-8")
    write_tables(report_tables(content), out)
    (out / JSON_FILE).write_text(json_text(content) + "\n", encoding="utf-8")
    return out / HTML_FILE
