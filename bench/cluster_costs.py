"""What the cluster layer costs on Redis, measured on this machine (docs/cluster.md).

    .venv/bin/python -m bench.cluster_costs [--redis redis://127.0.0.1:6379/0]

Round trips of PUBLISH (one by one and pipelined), of each rate-limit script, the encoded
size of deltas and snapshots, and the propagation delay of a delta between two
ClusterNodes (in one process, both on the one trio thread, so a lower bound of what two
processes see) at a fixed write rate. Keys and channels use a throwaway prefix, deleted
at the end.
"""

from __future__ import annotations

import argparse
import time
import uuid

import coredis
import trio

from presence_actors.cluster import (
    ClusterLimiter,
    ClusterNode,
    Delta,
    Facts,
    RedisBus,
    ReplicaTable,
    Snapshot,
    encode,
    parse_redis_url,
    user_writes,
)
from presence_actors.cluster.bus import BusUp
from presence_actors.cluster.user_replica import UserReplica
from presence_actors.model import PresenceStatus
from presence_actors.timing import Timing

TIMING = Timing()
ONLINE, AWAY = PresenceStatus.ONLINE, PresenceStatus.AWAY


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def round_trips(client: coredis.Redis, prefix: str, n: int = 2000) -> None:
    channel = f"{prefix}:cost"
    started = time.perf_counter()
    for _ in range(n):
        await client.publish(channel, b"x" * 100)
    print(f"PUBLISH, one by one:        {(time.perf_counter() - started) / n * 1e6:7.1f} us")
    started = time.perf_counter()
    for _ in range(n // 100):
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(100):
                pipe.publish(channel, b"x" * 100)
    print(f"PUBLISH, pipelined by 100:  {(time.perf_counter() - started) / n * 1e6:7.1f} us each")


async def script_costs(target, n: int = 2000) -> None:
    bus = RedisBus(target, "bench")
    send, receive = trio.open_memory_channel(10)
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run, send)
        assert isinstance(await receive.receive(), BusUp)
        limiter = ClusterLimiter(bus, TIMING, timeout=1.0)
        checks = {
            "status window": lambda i: limiter.admit_status(i, "phone", offline=False),
            "typing bucket": lambda i: limiter.admit_typing(i, 10),
            "socket cap (+1)": lambda i: limiter.admit_socket(i, frozenset({"bench", "x"})),
        }
        for name, check in checks.items():
            await check(0)
            started = time.perf_counter()
            for i in range(n):
                await check(i)
            per_call = (time.perf_counter() - started) / n * 1e6
            print(f"script, {name + ':':<19} {per_call:7.1f} us (EVALSHA round trip)")
        assert limiter.statistics().fallbacks == 0
        nursery.cancel_scope.cancel()


def sizes() -> None:
    replica = UserReplica(12345)
    delta = user_writes.set_status(replica, "a1b2c3d4", "phone-1", ONLINE, 1.7e9, TIMING)
    one = len(encode(Delta("a1b2c3d4", 1, Facts({12345: delta}))))
    users = {}
    for uid in range(1000):
        users[uid] = user_writes.connect(UserReplica(uid), "a1b2c3d4", "phone-1", 1.7e9, TIMING)
    snapshot = len(encode(Snapshot("a1b2c3d4", 99, None, Facts(users))))
    print(f"delta, one status change:   {one} bytes")
    print(f"snapshot, 1,000 sockets:    {snapshot / 1000:.0f} bytes per user with a socket")


async def propagation(target, rate: int = 1000, seconds: float = 3.0) -> None:
    sent: dict[int, float] = {}
    delays: list[float] = []

    class Timed(ReplicaTable):
        def apply(self, node, facts):
            super().apply(node, facts)
            now = time.perf_counter()
            delays.extend(now - sent[uid] for uid in facts.users if uid in sent)

    a_table, b_table = ReplicaTable("a"), Timed("b")
    a = ClusterNode(RedisBus(target, "a"), a_table, 10.0)
    b = ClusterNode(RedisBus(target, "b"), b_table, 10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run)
        await nursery.start(b.run)
        await a.wait_joined(5.0)
        await b.wait_joined(5.0)
        for i in range(int(rate * seconds)):
            uid = i % 5000
            status = AWAY if (i // 5000) % 2 else ONLINE
            replica = a_table.user(uid)
            delta = user_writes.set_status(replica, "a", "phone", status, 1.7e9 + i, TIMING)
            facts = Facts({uid: delta})
            a_table.apply("a", facts)
            sent[uid] = time.perf_counter()
            a.publish(facts)
            await trio.sleep(1 / rate)
        await trio.sleep(0.5)
        nursery.cancel_scope.cancel()
    print(
        f"delta propagation at {rate}/s: p50 {percentile(delays, 50) * 1e3:.2f} ms, "
        f"p99 {percentile(delays, 99) * 1e3:.2f} ms ({len(delays)} deltas, "
        f"{a.statistics().deltas_sent} publishes)"
    )


async def main(url: str) -> None:
    target = parse_redis_url(f"{url}?prefix=bench-{uuid.uuid4().hex[:8]}")
    async with coredis.Redis.from_url(target.url) as client:
        await round_trips(client, target.prefix)
        await script_costs(target)
        sizes()
        await propagation(target)
        keys = [k async for k in client.scan_iter(match=f"{target.prefix}:*")]
        if keys:
            await client.delete(keys)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    trio.run(main, parser.parse_args().redis)
