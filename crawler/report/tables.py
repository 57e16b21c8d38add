"""Every table of the report as a CSV file beside it (tables/<name>.csv), built from the report's content.

Cells pass through the same sanitising as `storewatch models --format csv` (crawler/safetext.py csv_cell):
control characters dropped, a cell a spreadsheet would run as a formula quoted. A CSV holds the whole table
where the page shows only its first rows (the latest changes: every change, one row per model and element).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.report.labels import file_safe, reconstructed_stores
from crawler.safetext import csv_cell

TABLES_DIR = "tables"


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]


def table_file(name: str, store: str | None = None) -> str:
    """The CSV's path relative to the report: `tables/<name>.csv`, or `tables/<store>-<name>.csv`."""
    return f"{TABLES_DIR}/{file_safe(store) + '-' if store else ''}{name}.csv"


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The report's tables, in page order; `Table.name` is the file's path (table_file)."""
    reconstructed = reconstructed_stores(report)
    study = report["study_comparison"]["study"]
    tables = [
        Table(
            table_file("overview"),
            ["store", "title", "reconstructed_runs", "runs", "first_observed", "last_observed", "models_now", "added", "changed", "removed", "returned"],
            [
                [s["store"], s["title"], s["reconstructed_runs"]["runs"], s["runs"], s["first_observed"], s["last_observed"], s["models_now"]]
                + [s["totals"][key] for key in ("added", "changed", "removed", "returned")]
                for s in report["stores"]
            ],
        ),
        Table(
            table_file("study-comparison"),
            ["set", "stores", "reconstructed_stores", "as_of", "elements_shown_by_any", "elements_shown_by_all", "shared_share", "shared_elements"],
            [[f"the study: {study['source']}", "; ".join(study["stores"]), None, None, None, None, study["shared_share"], None]]
            + [
                [
                    row["name"],
                    "; ".join(row["stores"]),
                    "; ".join(store for store in row["stores"] if store in reconstructed),
                    "; ".join(f"{store} {at}" for store, at in row["observed_at"].items()),
                    row["shown"],
                    len(row["shared"]),
                    row["shared_share"],
                    ", ".join(row["shared"]),
                ]
                for row in report["study_comparison"]["sets"]
            ],
        ),
    ]
    for s in report["stores"]:
        store = s["store"]
        tables.append(
            Table(
                table_file("runs", store),
                ["observed_at", "status", "reconstructed", "models_seen", "models", "added", "changed", "removed", "returned", "errors"],
                [
                    [r["observed_at"], r["status"], "yes" if r["reconstructed"] else "no"]
                    + [r[key] for key in ("models_seen", "models", "added", "changed", "removed", "returned", "errors")]
                    for r in s["timeline"]
                ],
            )
        )
        tables.append(Table(table_file("events", store), ["observed_at", "kind", "element", "text"], [[e["observed_at"], e["kind"], e.get("element"), e["text"]] for e in s["events"]]))
        tables.append(Table(table_file("elements", store), ["element", "model_changes"], [[e["element"], e["models"]] for e in s["most_changed_elements"]]))
        if s["latest_changes"]:
            columns = ["change", "model_id", "element", "old", "new", "pattern", "pattern_models", "url"]
            tables.append(Table(table_file("latest-changes", store), columns, [[row.get(key) for key in columns] for row in s["latest_changes"]["rows"]]))
        if s["top_movers"] and s["top_movers"]["metrics"]:
            columns = ["model_id", "metric", "since", "until", "increase", "relative"]
            rows = [[row[key] for key in columns] for mover in s["top_movers"]["metrics"] for row in mover["models"]]
            tables.append(Table(table_file("top-movers", store), ["from", "to"] + columns, [[s["top_movers"]["from"], s["top_movers"]["to"]] + row for row in rows]))
    coverage = report["coverage"]
    tables.append(
        Table(
            table_file("coverage"),
            ["element", "dimension"] + [f"{store} {end}" for store in coverage["tracked"] for end in ("from", "to")],
            [[row["element"], row["dimension"]] + [row["stores"][store][end] for store in coverage["tracked"] for end in ("from", "to")] for row in coverage["matrix"]],
        )
    )
    tables += _over_time_tables(report, reconstructed)
    tables.append(
        Table(
            table_file("cross-store"),
            ["score", "verdict"]
            + [f"{column}_{side}" for side in "ab" for column in ("store", "reconstructed", "name", "model_ids")]
            + ["evidence", "against"],
            [
                [g["score"], g["verdict"]]
                + [value for side in (g["a"], g["b"]) for value in (side["store"], side["store"] in reconstructed, side["name"], " ".join(side["model_ids"]))]
                + ["; ".join(g["evidence"]), "; ".join(g["conflicts"])]
                for g in report["cross_store"]["groups"]
            ],
        )
    )
    return tables


def _over_time_tables(report: dict[str, Any], reconstructed: set[str]) -> list[Table]:
    """The tables of the sections over time (shared elements, coverage, churn, survival), rows as on the page;
    a store is its plain id (to join on), with a `reconstructed` column beside it."""
    shared = [g for g in report["shared_over_time"]["groups"] if g["points"]]
    coverage = [entry for entry in report["coverage_over_time"] if entry["points"]]
    return [
        Table(
            table_file("shared-over-time"),
            ["group", "stores", "reconstructed_stores", "from", "shared_then", "latest", "shared_now", "elements_all_show_now"],
            [
                [g["label"], "; ".join(g["stores"]), "; ".join(store for store in g["stores"] if store in reconstructed), g["points"][0]["at"], g["points"][0]["shared_share"]]
                + [g["points"][-1]["at"], g["points"][-1]["shared_share"], ", ".join(g["points"][-1]["shared"])]
                for g in shared
            ],
        ),
        Table(
            table_file("coverage-over-time"),
            ["store", "reconstructed", "first", "mean_coverage_first", "elements_shown_first", "latest", "mean_coverage_latest", "elements_shown_latest"],
            [
                [entry["store"], entry["store"] in reconstructed]
                + [value for point in (entry["points"][0], entry["points"][-1]) for value in (point["at"], point["mean_coverage"], point["elements_shown"])]
                for entry in coverage
            ],
        ),
        Table(
            table_file("churn"),
            ["store", "reconstructed", "initial_load_models", "initial_load_at", "runs_after_it", "mean_churn", "largest_churn", "largest_at"],
            [
                [c["store"], c["store"] in reconstructed, (c["initial_load"] or {}).get("models"), (c["initial_load"] or {}).get("observed_at"), len(c["runs"]), c["mean"]]
                + [(c["max"] or {}).get("churn"), (c["max"] or {}).get("observed_at")]
                for c in report["churn"]
            ],
        ),
        Table(
            table_file("survival"),
            ["store", "reconstructed", "models", "removed", "still_listed", "censored_at", "followed_days", "listed_after_year", "median_days"],
            [
                [c["store"], c["store"] in reconstructed, c["models"], c["removed"], c["models"] - c["removed"], c["censored_at"], c["observed_days"], c["listed_after_year"], c["median_days"]]
                for c in report["survival"]
                if c["models"]
            ],
        ),
    ]


def write_tables(tables: list[Table], out: Path) -> None:
    """Each table as `out/<table.name>`: UTF-8 CSV with a header row, every cell sanitised."""
    (out / TABLES_DIR).mkdir(exist_ok=True)
    for table in tables:
        with (out / table.name).open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(table.columns)
            writer.writerows([_cell(value) for value in row] for row in table.rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return csv_cell(str(value))
