"""The report's top movers: the models whose counters rose most, from recorded AWS Marketplace and Hub runs."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import cli_json, run_cli, snapshot_dir
from crawler.elements import element_order

FORECASTING = "prodview-r4y8ne2kv6dzq"  # the listing whose reviews went 35 -> 41 (snapshots/aws_marketplace/SOURCES.md)


def crawl(db: str, store: str, *dates: str) -> None:
    run_cli("crawl", store, *[arg for date in dates for arg in ("--replay", str(snapshot_dir(store, date)))], db=db)


def report_content(db: str, out: Path, *args: str) -> dict:
    run_cli("report", "--out", str(out), *args, db=db)
    return json.loads((out / "report.json").read_text())


def test_top_movers_of_recorded_counters(db_url, tmp_path):
    crawl(db_url, "aws_marketplace", "2025-09-01", "2026-08-20")
    crawl(db_url, "huggingface", "2024-04-09", "2025-01-22", "2025-03-21")
    out = tmp_path / "report"
    content = report_content(db_url, out)
    # the same history gives the same report.json on either database: shares in taxonomy order, not a set's
    assert all(list(entry["shares"]) == element_order(entry["shares"]) for entry in content["coverage"]["start"].values())
    aws = next(section for section in content["stores"] if section["store"] == "aws_marketplace")
    movers = {mover["metric"]: mover["models"] for mover in aws["top_movers"]["metrics"]}
    assert (aws["top_movers"]["from"][:10], aws["top_movers"]["to"][:10]) == ("2025-09-01", "2026-08-20")
    (reviews,) = movers["reviews"]
    assert (reviews["model_id"], reviews["since"], reviews["until"], reviews["increase"]) == (FORECASTING, 35, 41, 6)
    # a counter that fell over the window (the listing's average rating) is no mover
    fell = {row["metric"] for row in cli_json("metrics", "aws_marketplace", FORECASTING, db=db_url) if row["change"] is not None and row["change"] < 0}
    assert fell and not fell & set(movers)

    markdown, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert f"| reviews | [{FORECASTING}](https://aws.amazon.com/marketplace/pp/{FORECASTING}) | 35 | 41 | +6 | 17% |" in markdown
    assert "<h3>Top movers: 2025-09-01 to 2026-08-20</h3>" in html and ">+6</td>" in html
    csv_rows = (out / "tables" / "aws_marketplace-top-movers.csv").read_text().splitlines()
    assert f"{FORECASTING},reviews,35,41,6," in "\n".join(csv_rows)
    assert len(csv_rows) - 1 == sum(len(models) for models in movers.values())  # the table whole, header aside

    # --since starts the window there: each start value is the model's value as then recorded
    narrow = report_content(db_url, tmp_path / "narrow", "--store", "huggingface", "--since", "2025-01-22")
    (hub,) = narrow["stores"]
    assert hub["top_movers"]["from"][:10] == "2025-01-22" and hub["top_movers"]["metrics"]
    for mover in hub["top_movers"]["metrics"]:
        for row in mover["models"]:
            series = cli_json("metrics", "huggingface", row["model_id"], "--metric", mover["metric"], db=db_url)
            as_of_since = [point["value"] for point in series if point["observed_at"] < "2025-01-23"][-1]
            assert (row["since"], row["until"], row["increase"]) == (as_of_since, series[-1]["value"], series[-1]["value"] - as_of_since)
