"""Where the web archive goes, and whether a crawl writes it: settings, environment, else beside the database."""

from __future__ import annotations

import os
from pathlib import Path

from storage.db import database_url, parse_database_url, sqlite_file

ARCHIVE_DIR_ENV = "STOREWATCH_ARCHIVE_DIR"
ARCHIVE_ENV = "STOREWATCH_ARCHIVE"  # `off` (or 0, false, no) turns archiving off
DEFAULT_DATA_DIR = Path("data")  # where the default database lives (storage.db.DEFAULT_DATABASE_URL)
_OFF = frozenset({"0", "off", "false", "no"})


def archive_folder(explicit: str | os.PathLike | None = None, database: str | None = None) -> Path:
    """The archive folder: `explicit`, else $STOREWATCH_ARCHIVE_DIR, else `archive/` beside the SQLite database
    (./data/archive for the default one, and for a PostgreSQL database)."""
    chosen = explicit or os.environ.get(ARCHIVE_DIR_ENV)
    if chosen:
        return Path(chosen)
    path = sqlite_file(parse_database_url(database_url(database)))
    return (path.parent if path is not None else DEFAULT_DATA_DIR) / "archive"


def archiving_on(setting: bool | str | None = None) -> bool:
    """Whether crawls write the archive: the setting if given, else $STOREWATCH_ARCHIVE; on by default."""
    value = setting if setting is not None else os.environ.get(ARCHIVE_ENV)
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in _OFF


def archive_settings(configured: dict, *, no_archive: bool = False) -> dict:
    """The Scrapy settings for a crawl's archive: `--no-archive` first, then the environment, then the config
    file's `[archive]` values (`configured`: enabled, dir); empty: the defaults."""
    if no_archive:
        return {"STOREWATCH_ARCHIVE": False}
    settings = {}
    if "enabled" in configured and not os.environ.get(ARCHIVE_ENV):
        settings["STOREWATCH_ARCHIVE"] = configured["enabled"]
    if configured.get("dir") and not os.environ.get(ARCHIVE_DIR_ENV):
        settings["STOREWATCH_ARCHIVE_DIR"] = configured["dir"]
    return settings
