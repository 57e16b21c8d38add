"""UTC instants: one column type and the parsing rules for user-given dates."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime, TypeDecorator

from storage.errors import StorewatchError


# On SQLite an instant is fixed-width ISO 8601 text: comparing the text compares the instants (ORDER BY, max(),
# the `valid_to >= valid_from` CHECK), and the file reads the same in any SQLite tool.
SQLITE_INSTANT = "%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06dZ"


class UTCDateTime(TypeDecorator):
    """An instant: an aware UTC datetime in Python; `timestamp with time zone` on PostgreSQL; on SQLite the
    text `YYYY-MM-DDTHH:MM:SS.ffffffZ`. Every timestamp column is of this type (migration 0005)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sqlite.DATETIME(storage_format=SQLITE_INSTANT))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_instant(text: str, *, end_of_day: bool = True) -> datetime:
    """Parse a user-given date or datetime into an aware UTC instant.

    A bare date means the end of that day (UTC), so `--as-of 2020-12-31` includes what was observed that day.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end_of_day else time.min, timezone.utc)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except ValueError:
        raise StorewatchError(f"not a date: {text!r} (expected YYYY-MM-DD or an ISO 8601 datetime)") from None
    except OverflowError:  # an offset that moves the instant past year 9999 or before year 1
        raise StorewatchError(f"not a date: {text!r} is out of range in UTC (years 1 to 9999)") from None


def isoformat(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, the one format storewatch prints."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
