"""The schema as versioned migrations, shared by Postgres and SQLite.

Each migration is applied once, in order, in one transaction together with its row in
`schema_migrations`; both backends take a lock first (`pg_advisory_xact_lock`, SQLite's
`BEGIN IMMEDIATE`) so two processes migrating at once apply each migration exactly once.
Never edit a released migration: append a new one. A migration's `statements` run on
both; `postgres` and `sqlite` hold what only one dialect can say (triggers, functions).

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
    postgres: tuple[str, ...] = ()
    sqlite: tuple[str, ...] = ()

    def statements_for(self, dialect: str) -> tuple[str, ...]:
        """Everything to run on `dialect` ("postgres" or "sqlite"), in order."""
        return self.statements + getattr(self, dialect)


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

# A counter every change to a directory table bumps, in the changing transaction, so a node
# polls one row to learn whether the directory changed (docs/storage.md, "Directory version").
DIRECTORY_TABLES = (
    "users",
    "partnerships",
    "social_circles",
    "social_circle_members",
    "conversations",
    "conversation_participants",
)
_BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"
_VERSION = (
    """CREATE TABLE directory_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version BIGINT NOT NULL
    )""",
    "INSERT INTO directory_version (id, version) VALUES (1, 1)",
)
# Postgres: one bump per statement (an import of 20,000 users is one bump, not 20,000).
_VERSION_POSTGRES = (
    f"""CREATE FUNCTION bump_directory_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_BUMP};
        RETURN NULL;
    END $$""",
    *(
        f"""CREATE TRIGGER {table}_bumps_directory_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version()"""
        for table in DIRECTORY_TABLES
    ),
)
# SQLite has row triggers only: one bump per row changed, one trigger per event.
_VERSION_SQLITE = tuple(
    f"""CREATE TRIGGER {table}_{event.lower()}_bumps_directory_version
    AFTER {event} ON {table} BEGIN {_BUMP}; END"""
    for table in DIRECTORY_TABLES
    for event in ("INSERT", "UPDATE", "DELETE")
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "directory tables", _DIRECTORY),
    Migration(2, "user_presence", _PRESENCE),
    Migration(3, "directory_version", _VERSION, _VERSION_POSTGRES, _VERSION_SQLITE),
)


def missing(applied: set[int]) -> list[Migration]:
    """The migrations not yet applied, in order."""
    return [m for m in MIGRATIONS if m.version not in applied]
