"""Postgres flush throughput: batched unnest upserts vs one INSERT ... ON CONFLICT per snapshot.

    python bench/storage_flush.py [--quick] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
    python bench/storage_flush.py --saturated 0,20 [--rate 5000] [--seconds 30]

Creates a fresh database (dropped afterwards), migrates it, imports 10,000 users, then
writes the same stream of snapshots (every user's status changing in turn) four ways:

- store: `Store.persist` + the storage actor, flushing batches of 500 (end to end);
- batch upsert: the storage backend's one-statement upsert, 500 snapshots per call;
- per snapshot, bridged: one INSERT ... ON CONFLICT per snapshot, each its own hand-off
  from trio to the database thread (what a naive trio actor would do);
- per snapshot, in asyncio: the same statements in a loop inside one hand-off (the best a
  per-row design could do).

`--saturated N,M` instead measures the store alone on a node at 100 % CPU: N busy trio
tasks (2 ms of CPU between checkpoints) keep the trio thread saturated while `--rate`
changes/s go into the store; a poller process reads the table every 0.2 s (F4's method:
`bench.dbpoll`, `f4_storage.flush_lags`), giving the flush lag of every change, and the
process' CPU time per row written. It uses only the store's public API, so the same script
measures an older checkout of storage/ for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import asyncpg
import trio

from bench.scenarios.f4_storage import flush_lags
from bench.workers import Worker
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
        await backend.upsert(records[i : i + BATCH], BATCH)
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


async def _spin(stop: trio.Event) -> None:
    """Keep the trio thread busy: 2 ms of CPU, a checkpoint, again."""
    while not stop.is_set():
        until = time.perf_counter() + 0.002
        while time.perf_counter() < until:
            pass
        await trio.lowlevel.checkpoint()


async def _produce(store, rate: float, seconds: float) -> dict[int, list]:
    """`rate` status changes/s (users in turn, away/online alternating) for `seconds`."""
    sent: dict[int, list[tuple[float, str]]] = {}
    count, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        for _ in range(int(rate * elapsed) - count):
            uid, status = count % USERS + 1, ("away", "online")[(count // USERS) % 2]
            store.persist(PresenceRecord(uid, PresenceStatus(status), time.time()))
            sent.setdefault(uid, []).append((time.monotonic(), status))
            count += 1
        await trio.sleep(0.05)
    return sent


async def saturated(url: str, spinners: int, rate: float, seconds: float) -> dict:
    users = {"users": [{"id": i} for i in range(1, USERS + 1)]}
    settle = 10.0
    poller = Worker("bench.dbpoll.Poller", dsn=url)
    try:
        async with open_store(url) as store:
            await store.import_directory(users)
            poller.send("watch", duration=seconds + settle, period=0.2)
            stop = trio.Event()
            cpu = time.process_time()
            async with trio.open_nursery() as nursery:
                for _ in range(spinners):
                    nursery.start_soon(_spin, stop)
                sent = await _produce(store, rate, seconds)
                await trio.sleep(settle / 2)  # still saturated: the tail is written under load
                stop.set()
            cpu = time.process_time() - cpu
            written = store.statistics().flushed_rows
        watched = await trio.to_thread.run_sync(poller.recv, seconds + settle + 60)
    finally:
        poller.stop()
    lags, missing = flush_lags(sent, watched["changes"])
    lags.sort()
    return {
        "spinners": spinners,
        "changes": sum(len(v) for v in sent.values()),
        "p50": lags[len(lags) // 2] if lags else float("nan"),
        "p99": lags[int(len(lags) * 0.99)] if lags else float("nan"),
        "unseen": missing,
        "rows": written,
        # with no busy tasks: the producer's, the store's and the database thread's CPU
        "cpu_us_per_row": None if spinners else round(cpu / max(written, 1) * 1e6, 1),
    }


def admin(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def fresh_database(dsn: str):
    name = f"presence_bench_{uuid.uuid4().hex[:8]}"
    admin(dsn, f'CREATE DATABASE "{name}"')
    try:
        yield dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 snapshots instead of 100,000")
    parser.add_argument(
        "--dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="maintenance database used to create and drop the bench database",
    )
    parser.add_argument("--saturated", help="comma-separated busy-task counts, e.g. 0,20")
    parser.add_argument("--rate", type=float, default=5000.0, help="--saturated: changes/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="--saturated: duration")
    args = parser.parse_args()
    if args.saturated:
        for spinners in (int(n) for n in args.saturated.split(",")):
            with fresh_database(args.dsn) as url:
                print(trio.run(saturated, url, spinners, args.rate, args.seconds), flush=True)
        return 0
    count = 10_000 if args.quick else 100_000
    with fresh_database(args.dsn) as url:
        results = trio.run(measure, url, count)
    best_per_row = max(n / s for label, n, s in results if "per snapshot" in label)
    print(f"{'method':<40} {'snapshots':>10} {'seconds':>8} {'snapshots/s':>12} {'vs per-row':>10}")
    for label, n, seconds in results:
        rate = n / seconds
        print(f"{label:<40} {n:>10,} {seconds:>8.2f} {rate:>12,.0f} {rate / best_per_row:>9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
