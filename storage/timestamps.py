"""Epoch seconds <-> the UTC values stored in TIMESTAMP columns (microsecond precision)."""

from __future__ import annotations

from datetime import UTC, datetime


def to_naive_utc(epoch: float) -> datetime:
    """What asyncpg writes to a TIMESTAMP (without time zone) column that holds UTC."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def from_naive_utc(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp()


def to_sqlite_text(epoch: float) -> str:
    """SQLite's own CURRENT_TIMESTAMP layout plus microseconds: sorts as text, reads back."""
    return to_naive_utc(epoch).strftime("%Y-%m-%d %H:%M:%S.%f")


def from_sqlite_text(text: str) -> float:
    return from_naive_utc(datetime.fromisoformat(text))
