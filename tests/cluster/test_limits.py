"""The cluster-wide limits on a real Redis: two nodes share every window, bucket and cap,
and a Redis that is down or too slow leaves the decision to the node (None), at once or
within the bound."""

from __future__ import annotations

from contextlib import asynccontextmanager

import trio

from presence_actors.cluster import BusDown, BusUp
from presence_actors.cluster.limits import ClusterLimiter, Verdict
from presence_actors.cluster.redis_bus import RedisBus
from presence_actors.timing import Timing

from .conftest import redis_port, through
from .proxy import CuttableProxy

TIMING = Timing()


@asynccontextmanager
async def limiters(*targets_and_nodes, timeout: float = 0.5, timing: Timing = TIMING):
    """One limiter per (target, node), each on its own connected bus."""
    async with trio.open_nursery() as nursery:
        result = []
        for target, node in targets_and_nodes:
            bus = RedisBus(target, node, timeout=0.5, backoff=(0.05, 0.2))
            send, receive = trio.open_memory_channel(100)
            await nursery.start(bus.run, send)
            with trio.fail_after(5):
                while not isinstance(await receive.receive(), BusUp):
                    pass
            limiter = ClusterLimiter(bus, timing, timeout=timeout)
            limiter.events = receive  # the bus's next events (BusDown ...), for the test
            result.append(limiter)
        yield result
        nursery.cancel_scope.cancel()


async def test_the_status_window_is_one_window_across_nodes(redis_target):
    async with limiters((redis_target, "a"), (redis_target, "b")) as (a, b):
        assert await a.admit_status(1, "phone", offline=False) == Verdict(True)
        refused = await b.admit_status(1, "phone", offline=False)
        assert not refused.admitted and refused.retry_after == 5
        assert (await b.admit_status(1, "laptop", offline=False)).admitted  # another device
        assert (await b.admit_status(1, "phone", offline=True)).admitted  # offline: always
        assert not (await a.admit_status(1, "phone", offline=False)).admitted  # ... reopens it
        assert a.statistics().refused == 1 and b.statistics().refused == 1


async def test_with_the_status_window_off_no_status_check_goes_to_redis(redis_target):
    off = Timing(status_min_interval=0)
    async with limiters((redis_target, "a"), timing=off) as (a,):
        verdicts = [await a.admit_status(1, "phone", offline=False) for _ in range(3)]
        assert verdicts == [Verdict(True)] * 3
        assert a.statistics().checks == 0  # nothing to count: no round trip per change
        assert (await a.admit_typing(1, 10)).admitted and a.statistics().checks == 1


async def test_the_typing_bucket_is_one_bucket_across_nodes(redis_target):
    async with limiters((redis_target, "a"), (redis_target, "b")) as (a, b):
        verdicts = [await (a if i % 2 else b).admit_typing(1, 10) for i in range(6)]
        assert [v.admitted for v in verdicts] == [True] * 5 + [False]
        assert verdicts[-1].retry_after == 1
        assert (await a.admit_typing(1, 11)).admitted  # another conversation


async def test_the_socket_cap_counts_every_node_that_is_up(redis_target):
    async with limiters((redis_target, "a"), (redis_target, "b")) as (a, b):
        up = frozenset({"a", "b"})
        for i in range(TIMING.max_sockets_per_user):
            assert (await (a if i % 2 else b).admit_socket(1, up)).admitted
        assert not (await a.admit_socket(1, up)).admitted
        await b.release_socket(1)
        assert (await a.admit_socket(1, up)).admitted
        # b goes down: its ten sockets no longer count.
        assert (await a.admit_socket(1, frozenset({"a"}))).admitted


async def test_a_redis_that_is_down_leaves_the_decision_to_the_node(redis_target):
    async with trio.open_nursery() as nursery:
        proxy = CuttableProxy(redis_port(redis_target))
        port = await nursery.start(proxy.run)
        via = through(redis_target, port)
        async with limiters((via, "a"), timeout=0.05) as (limiter,):
            proxy.stall()  # Redis stops answering: each check gives up within its bound
            started = trio.current_time()
            assert await limiter.admit_status(1, "phone", offline=False) is None
            assert trio.current_time() - started < 0.5
            proxy.cut()  # and once the bus knows it is down, no wait at all
            with trio.fail_after(5):
                assert isinstance(await limiter.events.receive(), BusDown)
            with trio.fail_after(0.01):
                assert await limiter.admit_typing(1, 10) is None
            assert limiter.statistics().fallbacks == 2
        nursery.cancel_scope.cancel()
