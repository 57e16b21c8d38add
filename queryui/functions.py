"""SQL functions `storewatch serve` adds to every SQLite connection Datasette opens.

Comparing two versions' elements in plain SQL would compare JSON text, and the same value is written in more
than one way (a model's first version keeps the staged canonical JSON with sorted keys, later versions the
key order of the record): so the canned queries call the diff's own comparison instead.
"""

from __future__ import annotations

import json
import sqlite3

from storage.writer import changed_keys


def storewatch_changes(old_elements: str | None, new_elements: str | None) -> str | None:
    """{element: {old, new}} for each element whose value differs between two versions' elements (JSON text)."""
    if old_elements is None or new_elements is None:
        return None
    old, new = json.loads(old_elements), json.loads(new_elements)
    changes = {key: {"old": old.get(key), "new": new.get(key)} for key in changed_keys(old, new)}
    return json.dumps(changes, ensure_ascii=False)


def add_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("storewatch_changes", 2, storewatch_changes, deterministic=True)
