"""The canned queries: one SQL file each in sql/, its leading comment giving the title (first line) and the
description (the lines after it). Parameters are :named; Datasette makes a form field of each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"
# the everyday questions, in the order Datasette lists them
QUERY_NAMES = ("store_as_of", "model_history", "store_diff", "same_name_in_several_stores", "runs_that_failed")


@dataclass(frozen=True)
class CannedQuery:
    name: str  # the query's URL: /storewatch/<name>
    title: str
    description: str
    sql: str


def canned_queries() -> list[CannedQuery]:
    return [_load(SQL_DIR / f"{name}.sql") for name in QUERY_NAMES]


def _load(path: Path) -> CannedQuery:
    lines = path.read_text().splitlines()
    header = []
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line.removeprefix("--").strip())
    return CannedQuery(path.stem, header[0], " ".join(header[1:]), "\n".join(lines[len(header) :]).strip())
