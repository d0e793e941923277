"""The bus on a real Redis: delivery, direct channels, and an outage through a proxy that
is cut mid-traffic and restored (real clock; bounded waits, no sleeps on races)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import trio

from presence_actors.cluster import BusDown, BusUp, Received
from presence_actors.cluster.redis_bus import RedisBus
from presence_actors.cluster.redis_url import parse_redis_url

from .conftest import redis_port, through
from .proxy import CuttableProxy


@asynccontextmanager
async def running(bus: RedisBus):
    send, receive = trio.open_memory_channel(1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run, send)
        yield receive
        nursery.cancel_scope.cancel()


async def next_of(receive, kind, timeout: float = 5.0):
    with trio.fail_after(timeout):
        async for event in receive:
            if isinstance(event, kind):
                return event
    raise AssertionError("the channel closed")


async def test_every_node_hears_a_broadcast_and_only_its_addressee_a_direct_message(
    redis_target,
):
    a, b = RedisBus(redis_target, "a"), RedisBus(redis_target, "b")
    async with running(a) as from_a, running(b) as from_b:
        await next_of(from_a, BusUp)
        await next_of(from_b, BusUp)
        assert await a.peer_count(1.0) == 1
        a.send(b"to everyone")
        assert (await next_of(from_b, Received)).data == b"to everyone"
        assert (await next_of(from_a, Received)).data == b"to everyone"  # own echo
        a.send(b"to b only", to="b")
        b.send(b"to a only", to="a")
        assert (await next_of(from_b, Received)).data == b"to b only"
        assert (await next_of(from_a, Received)).data == b"to a only"
        await a.drain(1.0)
        assert a.statistics().sent == 2


async def test_a_burst_leaves_in_one_pipeline_and_arrives_in_order(redis_target):
    a, b = RedisBus(redis_target, "a"), RedisBus(redis_target, "b")
    async with running(a) as from_a, running(b) as from_b:
        await next_of(from_a, BusUp)
        await next_of(from_b, BusUp)
        for i in range(500):
            a.send(str(i).encode())
        got = [int((await next_of(from_b, Received)).data) for _ in range(500)]
        assert got == list(range(500))


async def test_an_outage_is_reported_and_the_bus_comes_back_by_itself(redis_target):
    async with trio.open_nursery() as nursery:
        proxy = CuttableProxy(redis_port(redis_target))
        port = await nursery.start(proxy.run)
        via_proxy = through(redis_target, port)
        bus = RedisBus(via_proxy, "a", timeout=0.5, backoff=(0.05, 0.2))
        async with running(bus) as events:
            await next_of(events, BusUp)
            proxy.cut()
            down = await next_of(events, BusDown)
            assert down.reason
            bus.send(b"lost")  # never blocks, never raises while down
            assert bus.statistics().dropped == 1
            assert await bus.peer_count(0.1) is None
            await proxy.restore()
            await next_of(events, BusUp)
            bus.send(b"back")
            assert (await next_of(events, Received)).data == b"back"
        nursery.cancel_scope.cancel()


async def test_an_unreachable_redis_never_blocks_a_sender(redis_target):
    nowhere = parse_redis_url("redis://127.0.0.1:1/0?prefix=x")
    bus = RedisBus(nowhere, "a", timeout=0.2, backoff=(0.05, 0.1))
    async with running(bus):
        bus.send(b"nothing")
        assert not bus.is_up and bus.statistics().dropped == 1
        await bus.drain(0.1)


async def test_reconnect_drops_the_connection_and_makes_a_new_one(redis_target):
    bus = RedisBus(redis_target, "a", backoff=(0.01, 0.05))
    async with running(bus) as events:
        await next_of(events, BusUp)
        bus.reconnect()
        await next_of(events, BusDown)
        await next_of(events, BusUp)
        assert bus.statistics().reconnects == 1
