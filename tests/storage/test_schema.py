"""SPEC §9: `user_presence` is the seed's table with its index, and typing has no table.

On SQLite, read back through the database's own catalogue, so a migration that drifts
from the seed's columns (or drops the index) fails here, whatever the code expects.
"""

from __future__ import annotations

import sqlite3

from storage import migrate


async def test_user_presence_is_the_seeds_table_with_its_index_and_typing_has_none(tmp_path):
    path = tmp_path / "presence.db"
    await migrate(f"sqlite:///{path}")
    db = sqlite3.connect(path)
    try:
        columns = [(name, kind, notnull, pk) for _, name, kind, notnull, _, pk
                   in db.execute("PRAGMA table_info(user_presence)")]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(user_presence)")}
        indexed = [row[2] for row in db.execute("PRAGMA index_info(idx_user_presence_status)")]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert columns == [
        ("user_id", "INTEGER", 0, 1),
        ("status", "VARCHAR(10)", 1, 0),
        ("last_seen", "TIMESTAMP", 1, 0),
        ("updated_at", "TIMESTAMP", 1, 0),
    ]
    assert "idx_user_presence_status" in indexes and indexed == ["status"]
    assert "typing_indicators" not in tables
