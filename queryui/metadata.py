"""Datasette's metadata for a storewatch database: what each table and column holds, read from the
SQLAlchemy models (each table's class docstring, each column's `doc`), and the canned queries."""

from __future__ import annotations

import inspect
from typing import Any

from queryui.canned import canned_queries
from storage.models import Base

DATABASE_NAME = "storewatch"  # the database's URL, /storewatch, whatever the file is called
# Tables in the file that are not storewatch's history: Alembic's schema version and APScheduler's jobs.
HIDDEN_TABLES = ("alembic_version", "apscheduler_jobs", "apscheduler_demo_jobs")
# Facets Datasette offers on a table's page; `label_column` is what a foreign key to the table shows.
TABLE_OPTIONS: dict[str, dict[str, Any]] = {
    "crawl_runs": {"facets": ["store", "status"], "sort_desc": "id"},
    "models": {"facets": ["store"], "label_column": "model_id"},
    "model_versions": {"facets": ["change"]},
}


def datasette_metadata() -> dict[str, Any]:
    return {
        "title": "storewatch",
        "description": (
            "The history of machine-learning model stores: crawl runs, models and their versions. "
            "Dates in the canned queries are YYYY-MM-DD, meaning the end of that day (UTC). Timestamps are UTC."
        ),
        "databases": {
            DATABASE_NAME: {
                "tables": {**_tables(), **{name: {"hidden": True} for name in HIDDEN_TABLES}},
                "queries": {
                    query.name: {"title": query.title, "description": query.description, "sql": query.sql}
                    for query in canned_queries()
                },
            }
        },
    }


def _tables() -> dict[str, Any]:
    classes = {mapper.local_table.name: mapper.class_ for mapper in Base.registry.mappers}
    return {
        table.name: {
            "description": " ".join(inspect.getdoc(classes[table.name]).split()),
            "columns": {column.name: column.doc for column in table.columns},
            **TABLE_OPTIONS.get(table.name, {}),
        }
        for table in Base.metadata.tables.values()  # in the order storage/models.py defines them
    }
