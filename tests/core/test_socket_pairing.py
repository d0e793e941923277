"""Connect and Disconnect pair on every path (issue 8.11), and the socket cap holds under
concurrent subscriptions (issue 8.13).

The reliability audit left 306-426 of 500 users online for ever after aborted WebSocket
upgrades: `Connect` was applied, but the `Disconnect` was only sent from a block the
subscription entered after the actor's reply, so a subscription cancelled while it waited
(the client reset the connection, or the reply deadline passed while the actor was still
loading from a slow store) left the actor holding a socket nobody would close. The
property below aborts subscriptions at every point a handshake can be abandoned, with
slow and failing stores, and checks that afterwards nobody is online and no actor is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from presence_actors import (
    ActorUnavailable,
    DirectoryData,
    MemoryStore,
    PresenceError,
    PresenceStatus,
    Timing,
    TooManySockets,
    WallClock,
    open_presence,
)
from presence_actors.actor import USER

from .conftest import DEFAULT_DIRECTORY, T0

TIMING = Timing(request_timeout=5.0, max_sockets_per_user=3)


class UnsteadyStore(MemoryStore):
    """A memory store whose presence reads take `delay` seconds and fail `failures` times
    (an actor that cannot load crashes and, after three crashes, is given up)."""

    def __init__(self, data: DirectoryData, delay: float = 0.0, failures: int = 0) -> None:
        super().__init__(data)
        self.delay = delay
        self.failures = failures

    async def load_presence(self, user_ids):
        await trio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise OSError("the database is not answering")
        return await super().load_presence(user_ids)


# --- the property: aborted handshakes leave nothing behind -------------------------------


@dataclass(frozen=True)
class Attempt:
    user_id: int
    device_id: str
    start: float  # virtual seconds after the service started
    abort: str  # "checkpoints": cancelled after `at` scheduler passes; "deadline": after
    at: float  # `at` virtual seconds; "hold": completes, stays open `at` s, then closes


ATTEMPTS = st.builds(
    Attempt,
    st.integers(1, 3),
    st.sampled_from(["a", "b"]),
    st.sampled_from([0.0, 0.0, 0.1, 1.0, 5.0]),
    st.sampled_from(["checkpoints", "deadline", "hold"]),
    st.sampled_from([0, 1, 2, 3, 5, 8, 13, 0.5, 4.9, 5.0, 5.1, 6.0, 20.0]),
)


async def _cancel_after_passes(scope: trio.CancelScope, passes: int) -> None:
    for _ in range(int(passes)):
        await trio.lowlevel.checkpoint()
    scope.cancel()


async def _run_attempt(service, attempt: Attempt) -> None:
    await trio.sleep(attempt.start)
    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as scope:
            if attempt.abort == "checkpoints":
                nursery.start_soon(_cancel_after_passes, scope, attempt.at)
            elif attempt.abort == "deadline":
                scope.deadline = trio.current_time() + attempt.at
            try:
                async with service.subscribe(attempt.user_id, attempt.device_id):
                    if attempt.abort == "hold":
                        await trio.sleep(attempt.at)
                    else:
                        await trio.sleep_forever()
            except (PresenceError, OSError):
                pass  # refused (503, 429) or the store failed: the handshake is abandoned
        nursery.cancel_scope.cancel()


async def _nobody_left_online(attempts: list[Attempt], delay: float, failures: int) -> None:
    store = UnsteadyStore(DEFAULT_DIRECTORY, delay, failures)
    async with open_presence(store, TIMING, WallClock(T0)) as service:
        async with trio.open_nursery() as nursery:
            for attempt in attempts:
                nursery.start_soon(_run_attempt, service, attempt)
        assert service.socket_count(1) == service.socket_count(2) == service.socket_count(3) == 0
        store.failures = 0
        # Past the disconnect grace (10 s), the online TTL (60 s) and every rate window:
        await trio.sleep(TIMING.online_ttl + TIMING.disconnect_grace + 1)
        await trio.testing.wait_all_tasks_blocked()
        views = await service.presences(1, [1, 2, 3])
        assert [view.status for view in views] == [PresenceStatus.OFFLINE] * 3
        assert service.registry.count(USER) == 0  # no actor holds a device without a socket


@settings(max_examples=300, deadline=None)
@given(
    st.lists(ATTEMPTS, min_size=1, max_size=12),
    st.sampled_from([0.0, 0.0, 1.0, 6.0]),  # 6 s: past the 5 s reply deadline
    st.sampled_from([0, 0, 1, 4, 8]),  # 4 or more: an actor is given up with Connects queued
)
def test_aborted_handshakes_leave_no_user_online_and_no_actor_behind(attempts, delay, failures):
    trio.run(
        _nobody_left_online, attempts, delay, failures,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )


# --- the paths, one by one ------------------------------------------------------------------


async def _after_the_grace(service, user_id: int) -> PresenceStatus:
    await trio.sleep(TIMING.online_ttl + TIMING.disconnect_grace + 1)
    await trio.testing.wait_all_tasks_blocked()
    return (await service.presence(user_id, user_id)).status


async def test_a_subscription_cancelled_while_the_actor_loads_is_disconnected(autojump_clock):
    with trio.fail_after(600):
        store = UnsteadyStore(DEFAULT_DIRECTORY, delay=1.0)
        async with open_presence(store, TIMING, WallClock(T0)) as service:
            with trio.move_on_after(0.5):  # the client reset the upgrade mid-way
                async with service.subscribe(1, "phone"):
                    pytest.fail("the actor cannot have answered yet")
            assert await _after_the_grace(service, 1) is PresenceStatus.OFFLINE
            assert service.registry.count(USER) == 0


async def test_a_reply_deadline_passed_while_the_actor_loads_is_disconnected(autojump_clock):
    with trio.fail_after(600):
        store = UnsteadyStore(DEFAULT_DIRECTORY, delay=6.0)  # the store outlasts the 5 s reply
        async with open_presence(store, TIMING, WallClock(T0)) as service:
            with pytest.raises(ActorUnavailable):
                async with service.subscribe(1, "phone"):
                    pass
            assert await _after_the_grace(service, 1) is PresenceStatus.OFFLINE
            assert service.registry.count(USER) == 0


async def test_a_failure_after_connect_is_disconnected(autojump_clock):
    with trio.fail_after(600):
        store = UnsteadyStore(DEFAULT_DIRECTORY)
        async with open_presence(store, TIMING, WallClock(T0)) as service:
            await service.set_status(1, "laptop", PresenceStatus.ONLINE)  # on the board
            store.failures = 1  # initial_state's read of users 2 and 3 fails
            with pytest.raises(OSError):
                async with service.subscribe(1, "phone"):
                    pass
            assert service.socket_count(1) == 0
            assert await _after_the_grace(service, 1) is PresenceStatus.OFFLINE


async def test_an_actor_given_up_with_a_connect_queued_leaves_no_socket(autojump_clock):
    # Its queue is failed; a fresh actor must neither count the abandoned socket nor miss
    # a socket that is still open.
    with trio.fail_after(600):
        store = UnsteadyStore(DEFAULT_DIRECTORY, failures=4)
        async with open_presence(store, TIMING, WallClock(T0)) as service:
            with pytest.raises(ActorUnavailable):
                async with service.subscribe(1, "phone"):
                    pass
            async with service.subscribe(1, "laptop"):
                await trio.sleep(TIMING.online_ttl * 2)
                assert (await service.presence(1, 1)).status is PresenceStatus.ONLINE
            assert await _after_the_grace(service, 1) is PresenceStatus.OFFLINE
            assert service.registry.count(USER) == 0


# --- the socket cap -------------------------------------------------------------------------


async def test_concurrent_subscriptions_end_with_exactly_the_cap_open(autojump_clock):
    # Regression (issue 8.13): the count was checked, then the actor was awaited, then the
    # socket registered: 300 concurrent upgrades opened 116-218 sockets against a cap of 20.
    with trio.fail_after(600):
        store = UnsteadyStore(DEFAULT_DIRECTORY, delay=1.0)
        async with open_presence(store, TIMING, WallClock(T0)) as service:
            opened, refused, everyone_tried = [], [], trio.Event()

            async def subscriber(index: int) -> None:
                try:
                    async with service.subscribe(1, f"device-{index}"):
                        opened.append(index)
                        await everyone_tried.wait()
                except TooManySockets:
                    refused.append(index)

            async with trio.open_nursery() as nursery:
                for index in range(50):
                    nursery.start_soon(subscriber, index)
                await trio.sleep(10)
                assert service.socket_count(1) == TIMING.max_sockets_per_user
                everyone_tried.set()
            assert len(opened) == TIMING.max_sockets_per_user
            assert len(refused) == 50 - TIMING.max_sockets_per_user
