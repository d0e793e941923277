"""Postgres flush throughput: batched unnest upserts vs one INSERT ... ON CONFLICT per snapshot.

    python bench/storage_flush.py [--quick] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Creates a fresh database (dropped afterwards), migrates it, imports 10,000 users, then
writes the same stream of snapshots (every user's status changing in turn) four ways:

- store: `Store.persist` + the storage actor, flushing batches of 500 (end to end);
- batch upsert: the storage backend's one-statement upsert, 500 snapshots per call;
- per snapshot, bridged: one INSERT ... ON CONFLICT per snapshot, each its own hand-off
  from trio to the database thread (what a naive trio actor would do);
- per snapshot, in asyncio: the same statements in a loop inside one hand-off (the best a
  per-row design could do).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import asyncpg
import trio

from presence_actors.model import PresenceRecord, PresenceStatus
from storage import StoreOptions, open_store
from storage.backends.postgres import open_postgres
from storage.timestamps import to_naive_utc

USERS = 10_000
BATCH = 500
ONE_ROW = """
INSERT INTO user_presence (user_id, status, last_seen, updated_at)
VALUES ($1, $2, $3, LOCALTIMESTAMP)
ON CONFLICT (user_id) DO UPDATE
SET status = EXCLUDED.status, last_seen = EXCLUDED.last_seen, updated_at = EXCLUDED.updated_at"""
STATUSES = (PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE)


def snapshots(count: int, start: float) -> list[PresenceRecord]:
    return [
        PresenceRecord(i % USERS + 1, STATUSES[(i // USERS) % 3], start + i / 1000)
        for i in range(count)
    ]


async def via_store(url: str, records: list[PresenceRecord]) -> float:
    options = StoreOptions(flush_interval=3600.0, health_interval=3600.0, max_batch=BATCH)
    async with open_store(url, options=options) as store:
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            for record in records[i : i + BATCH]:
                store.persist(record)
            await store.flush()
        elapsed = time.perf_counter() - started
        assert store.statistics().flushes == -(-len(records) // BATCH)
    return elapsed


async def via_batches(backend, records: list[PresenceRecord]) -> float:
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        await backend.upsert(records[i : i + BATCH])
    return time.perf_counter() - started


async def per_row_bridged(backend, records: list[PresenceRecord]) -> float:
    async def one(conn, r: PresenceRecord) -> None:
        await conn.execute(ONE_ROW, r.user_id, r.status.value, to_naive_utc(r.last_seen))

    started = time.perf_counter()
    for r in records:
        await backend._run(one, r)
    return time.perf_counter() - started


async def per_row_in_asyncio(backend, records: list[PresenceRecord]) -> float:
    async def all_rows(conn) -> None:
        for r in records:
            await conn.execute(ONE_ROW, r.user_id, r.status.value, to_naive_utc(r.last_seen))

    started = time.perf_counter()
    await backend._run(all_rows)
    return time.perf_counter() - started


async def measure(url: str, count: int) -> list[tuple[str, int, float]]:
    users = {"users": [{"id": i, "display_name": f"u{i}"} for i in range(1, USERS + 1)]}
    async with open_store(url) as store:
        await store.import_directory(users)
    results = [
        ("store (persist + actor, 500/flush)", count, await via_store(url, snapshots(count, 1.7e9)))
    ]
    async with open_postgres(url) as backend:
        results.append(
            (
                "batch upsert (unnest, 500/statement)",
                count,
                await via_batches(backend, snapshots(count, 1.8e9)),
            )
        )
        few = max(count // 5, 1000)  # per-row is slow: time fewer and report the rate
        results.append(
            (
                "one INSERT per snapshot, bridged",
                few,
                await per_row_bridged(backend, snapshots(few, 1.9e9)),
            )
        )
        results.append(
            (
                "one INSERT per snapshot, in asyncio",
                few,
                await per_row_in_asyncio(backend, snapshots(few, 2.0e9)),
            )
        )
    return results


def admin(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 snapshots instead of 100,000")
    parser.add_argument(
        "--dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="maintenance database used to create and drop the bench database",
    )
    args = parser.parse_args()
    count = 10_000 if args.quick else 100_000
    name = f"presence_bench_{uuid.uuid4().hex[:8]}"
    admin(args.dsn, f'CREATE DATABASE "{name}"')
    try:
        url = args.dsn.rsplit("/", 1)[0] + "/" + name
        results = trio.run(measure, url, count)
    finally:
        admin(args.dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    best_per_row = max(n / s for label, n, s in results if "per snapshot" in label)
    print(f"{'method':<40} {'snapshots':>10} {'seconds':>8} {'snapshots/s':>12} {'vs per-row':>10}")
    for label, n, seconds in results:
        rate = n / seconds
        print(f"{label:<40} {n:>10,} {seconds:>8.2f} {rate:>12,.0f} {rate / best_per_row:>9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
