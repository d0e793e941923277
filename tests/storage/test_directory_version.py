"""The directory version: one row that every change to a directory table bumps.

Nodes poll `Store.load_directory_version()` and reload the directory only when it moved.
On the SQL backends triggers bump it in the changing transaction, whoever makes the change
(an import, or an operator's own SQL); on the memory backend every import bumps it.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
import trio

from storage import open_store
from storage.schema import DIRECTORY_TABLES
from storage.url import parse_url

from .helpers import FAST, directory, pg, record

NOW = time.time()


async def test_imports_bump_the_version_and_presence_writes_do_not(store_url):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as store:
            first = await store.load_directory_version()
            await store.import_directory(directory(3))
            second = await store.load_directory_version()
            assert second > first
            store.persist(record(1, "online", NOW))
            await store.flush()
            await store.load_directory()
            assert await store.load_directory_version() == second
            await store.import_directory({"circles": [{"id": 7, "name": "c", "members": [1]}]})
            third = await store.load_directory_version()
            assert third > second
            await store.import_directory(directory(1), replace=True)
            assert await store.load_directory_version() > third


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request):
    return request.getfixturevalue(f"{request.param}_url")


# One change per directory table, as an operator's own SQL would make it.
CHANGES = [
    ("users", "INSERT INTO users (id, display_name) VALUES (9, 'x')"),
    ("users", "UPDATE users SET display_name = 'y' WHERE id = 9"),
    ("partnerships", "INSERT INTO partnerships (user_a, user_b) VALUES (1, 9)"),
    ("social_circles", "INSERT INTO social_circles (id, name) VALUES (5, 'c')"),
    ("social_circle_members", "INSERT INTO social_circle_members VALUES (5, 9)"),
    ("conversations", "INSERT INTO conversations (id) VALUES (6)"),
    ("conversation_participants", "INSERT INTO conversation_participants VALUES (6, 9)"),
    ("social_circle_members", "DELETE FROM social_circle_members WHERE user_id = 9"),
    ("users", "DELETE FROM users WHERE id = 9"),  # cascades too
]


async def test_a_change_to_any_directory_table_by_anyone_bumps_the_version(sql_url):
    assert {table for table, _ in CHANGES} == set(DIRECTORY_TABLES)
    parsed = parse_url(sql_url)

    async def execute(sql: str) -> None:
        if parsed.kind == "sqlite":
            with sqlite3.connect(parsed.path) as conn:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute(sql)
        else:
            await pg(parsed.dsn, lambda c: c.execute(sql))

    with trio.fail_after(30):
        async with open_store(sql_url, options=FAST) as store:
            await store.import_directory(directory(2))
            version = await store.load_directory_version()
            for table, sql in CHANGES:
                await execute(sql)
                now = await store.load_directory_version()
                assert now > version, (table, sql)
                version = now
            await execute("UPDATE users SET display_name = 'z' WHERE id = 404")  # no row
            if parsed.kind == "sqlite":  # row triggers: nothing changed, nothing bumped
                assert await store.load_directory_version() == version
