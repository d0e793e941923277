"""The schema as versioned migrations, shared by Postgres and SQLite.

Each migration is applied once, in order, in one transaction together with its row in
`schema_migrations`; both backends take a lock first (`pg_advisory_xact_lock`, SQLite's
`BEGIN IMMEDIATE`) so two processes migrating at once apply each migration exactly once.
Never edit a released migration: append a new one.

All TIMESTAMP columns hold UTC (Postgres sessions run with `timezone = 'UTC'`, so
`CURRENT_TIMESTAMP` defaults are UTC too; SQLite's `CURRENT_TIMESTAMP` is UTC).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""

# SPEC §4. Partnerships are stored once per pair, low id first.
_DIRECTORY = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '')",
    """CREATE TABLE partnerships (
        user_a INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        user_b INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (user_a, user_b),
        CHECK (user_a < user_b)
    )""",
    "CREATE INDEX idx_partnerships_user_b ON partnerships(user_b)",
    "CREATE TABLE social_circles (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    """CREATE TABLE social_circle_members (
        circle_id INTEGER NOT NULL REFERENCES social_circles(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (circle_id, user_id)
    )""",
    "CREATE INDEX idx_social_circle_members_user ON social_circle_members(user_id)",
    "CREATE TABLE conversations (id INTEGER PRIMARY KEY)",
    """CREATE TABLE conversation_participants (
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (conversation_id, user_id)
    )""",
    "CREATE INDEX idx_conversation_participants_user ON conversation_participants(user_id)",
)

# The seed's Option 2, verbatim. typing_indicators is left out on purpose (SPEC §9).
_PRESENCE = (
    """CREATE TABLE user_presence (
        user_id INTEGER PRIMARY KEY REFERENCES users(id),
        status VARCHAR(10) NOT NULL DEFAULT 'offline',
        last_seen TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
    )""",
    "CREATE INDEX idx_user_presence_status ON user_presence(status)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "directory tables", _DIRECTORY),
    Migration(2, "user_presence", _PRESENCE),
)


def missing(applied: set[int]) -> list[Migration]:
    """The migrations not yet applied, in order."""
    return [m for m in MIGRATIONS if m.version not in applied]
