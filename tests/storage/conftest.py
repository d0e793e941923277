"""Backends for the contract suite: memory, a SQLite file, a throwaway Postgres database.

The Postgres database is CREATEd with a random name through the `postgres` maintenance
database (127.0.0.1:5432, user postgres, trust auth; $PRESENCE_TEST_POSTGRES overrides
that DSN) and DROPped afterwards. When the
server is unreachable the Postgres tests skip, or FAIL when $CI is set.
"""

from __future__ import annotations

import os
import uuid

import pytest

from storage.backends import memory

from .helpers import ADMIN_DSN, pg_run


def _server_or_skip() -> None:
    try:
        pg_run(ADMIN_DSN, lambda c: c.fetchval("SELECT 1"))
    except (OSError, Exception) as exc:  # connection refused, auth, timeout...
        message = f"PostgreSQL ({ADMIN_DSN}) is unreachable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def postgres_url():
    _server_or_skip()
    name = f"presence_test_{uuid.uuid4().hex[:12]}"
    pg_run(ADMIN_DSN, lambda c: c.execute(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        pg_run(ADMIN_DSN, lambda c: c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path}/presence.db"  # tmp_path is absolute: sqlite:////tmp/...


@pytest.fixture
def memory_url():
    name = f"test-{uuid.uuid4().hex[:12]}"  # named: a reopened store sees the same data
    yield f"memory://{name}"
    memory._NAMED.pop(name, None)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request):
    """Each contract test runs once per backend."""
    return request.getfixturevalue(f"{request.param}_url")
