"""Migrations: versioned, idempotent, and safe from two processes at once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio

from storage import migrate
from storage.schema import MIGRATIONS

from .helpers import schema_versions

REPO = Path(__file__).resolve().parents[2]
ALL_VERSIONS = [m.version for m in MIGRATIONS]


async def run_cli(*args: str, **extra_env: str) -> trio.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PRESENCE_DATABASE_URL", None)  # only what the test passes
    env.update(extra_env)
    return await trio.run_process(
        [sys.executable, "-m", "storage", *args],
        cwd=REPO,
        env=env,
        check=False,
        capture_stdout=True,
        capture_stderr=True,
    )


def test_migration_versions_are_increasing_and_unique():
    assert sorted(set(ALL_VERSIONS)) == ALL_VERSIONS


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request):
    return request.getfixturevalue(f"{request.param}_url")


async def test_migrate_twice_applies_each_migration_once(db_url):
    with trio.fail_after(20):
        assert await migrate(db_url) == ALL_VERSIONS
        assert await migrate(db_url) == []
        assert await schema_versions(db_url) == ALL_VERSIONS


async def test_two_processes_migrating_at_once_both_succeed(db_url):
    results: list[trio.Process] = []

    async def one():
        results.append(await run_cli("migrate", db_url))

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(one)
    for proc in results:
        assert proc.returncode == 0, proc.stderr.decode()
    outputs = sorted(p.stdout.decode().strip() for p in results)
    assert outputs == sorted([f"applied migrations: {ALL_VERSIONS}"] + ["schema up to date"] * 2)
    assert await schema_versions(db_url) == ALL_VERSIONS


async def test_migrate_reports_an_unreachable_database_clearly(tmp_path):
    with trio.fail_after(20):
        proc = await run_cli("migrate", "postgresql://postgres@127.0.0.1:1/nowhere")
        assert proc.returncode == 1
        assert b"error:" in proc.stderr and b"Traceback" not in proc.stderr
        bad = await run_cli("migrate", "mysql://localhost/x")
        assert bad.returncode == 1
        assert b"unknown scheme 'mysql'" in bad.stderr
