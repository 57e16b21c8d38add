"""Reports: what changed in the stores and what the landscape looks like, as HTML, Markdown and JSON."""

from crawler.report.content import build_report
from crawler.report.render import render_diff_markdown, write_report

__all__ = ["build_report", "render_diff_markdown", "write_report"]
