"""The services ask the cluster limiter first (real Redis): a limit spread over two nodes
holds as on one node, and a refusal never reaches an actor."""

from __future__ import annotations

import pytest
import trio

from presence_actors import PresenceStatus, RateLimited, Timing, TooManySockets

from .services import services
from .test_limits import limiters

ONLINE, AWAY = PresenceStatus.ONLINE, PresenceStatus.AWAY
CAP_2 = Timing(max_sockets_per_user=2)


async def test_the_typing_bucket_holds_across_two_services(redis_target):
    with trio.fail_after(10):
        async with (
            limiters((redis_target, "a"), (redis_target, "b")) as (la, lb),
            services("a", "b", limiters={"a": la, "b": lb}) as nodes,
        ):
            a, b = nodes["a"].service, nodes["b"].service
            for i in range(5):  # the burst, spread over both nodes
                await (a if i % 2 else b).set_typing(1, 10, True)
            with pytest.raises(RateLimited) as refused:
                await a.set_typing(1, 10, True)  # a's own bucket has two tokens left
            assert refused.value.retry_after == 1
            assert a.statistics().rate_limited == 1


async def test_a_status_refused_cluster_wide_is_429_on_the_other_node_at_once(redis_target):
    with trio.fail_after(10):
        async with (
            limiters((redis_target, "a"), (redis_target, "b")) as (la, lb),
            services("a", "b", limiters={"a": la, "b": lb}) as nodes,
        ):
            await nodes["a"].service.set_status(1, "phone", ONLINE)
            # Before a's write reached b (no settle): Redis's window refuses it anyway.
            with pytest.raises(RateLimited) as refused:
                await nodes["b"].service.set_status(1, "phone", AWAY)
            assert refused.value.retry_after == 5


async def test_the_socket_cap_counts_sockets_on_every_node(redis_target):
    with trio.fail_after(10):
        async with (
            limiters((redis_target, "a"), (redis_target, "b"), timing=CAP_2) as (la, lb),
            services("a", "b", limiters={"a": la, "b": lb}, max_sockets_per_user=2) as nodes,
        ):
            a, b = nodes["a"].service, nodes["b"].service
            async with a.subscribe(1, "phone"), b.subscribe(1, "laptop"):
                with pytest.raises(TooManySockets):
                    async with a.subscribe(1, "tablet"):
                        pass
            async with b.subscribe(1, "tablet"):  # both released on close
                pass
