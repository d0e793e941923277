"""Seed iOS tests: "Rate limiting prevents excessive API calls" and "Offline scenarios
queue updates for retry" (fake transport, autojump clock)."""

from __future__ import annotations

import trio

from presence_client import PresenceStatus

from .conftest import manager_on
from .fakes import answer, ok
from .test_lifecycle import since

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def test_a_burst_of_five_updates_sends_two(autojump_clock, transport):
    """One per second for five seconds: the first goes at once, the latest at 5 s."""
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        for status in (ONLINE, AWAY, ONLINE, ONLINE, AWAY):
            manager.update_status(status)
            await trio.sleep(1)
        await trio.sleep(60)
        assert since(t0, transport.statuses()) == [(0, "online"), (5, "away")]


async def test_updates_queued_together_send_only_the_latest(autojump_clock, transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.update_status(ONLINE)
        await trio.sleep(1)
        for status in (AWAY, ONLINE, AWAY, ONLINE):
            manager.update_status(status)
        await trio.sleep(60)
        assert since(t0, transport.statuses()) == [(0, "online"), (5, "online")]


async def test_offline_is_never_held_back(autojump_clock, transport):
    """The server never limits `offline` (SPEC §5), so neither does the client."""
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.update_status(ONLINE)
        await trio.sleep(1)
        manager.update_status(OFFLINE)
        await trio.sleep(1)
        manager.update_status(ONLINE)  # the window the offline opened holds this back
        await trio.sleep(30)
        assert since(t0, transport.statuses()) == [(0, "online"), (1, "offline"), (6, "online")]


async def test_a_429_waits_for_retry_after(autojump_clock, transport):
    """A server stricter than the client: its `Retry-After` wins, the update is not lost."""
    t0 = trio.current_time()
    replies = iter([answer(429, retry_after="12")])
    transport.respond = lambda call: next(replies, None) or ok(call)
    async with manager_on(transport) as manager:
        manager.update_status(AWAY)
        await trio.sleep(30)
        assert since(t0, transport.statuses()) == [(0, "away"), (12, "away")]


async def test_a_failed_update_is_held_until_a_call_succeeds(autojump_clock, transport):
    """Offline period: nothing is retried on a timer; the reconnect that succeeds flushes
    the latest update at once, before the next heartbeat would have."""
    t0 = trio.current_time()
    transport.network = False
    async with manager_on(transport) as manager:
        manager.foreground()  # online fails at 0; connects fail at 0, 1, 3, 7, 15...
        await trio.sleep(2)
        manager.update_status(AWAY)
        await trio.sleep(1)
        manager.update_status(ONLINE)
        manager.update_status(AWAY)
        await trio.sleep(7)  # t = 10
        assert since(t0, transport.statuses()) == [(0, "online")]
        transport.network = True
        await trio.sleep(10)  # the connect at 15 succeeds
        assert [at - t0 for at in transport.connects] == [0, 1, 3, 7, 15]
        assert since(t0, transport.statuses()) == [(0, "online"), (15, "away")]
        assert manager.connected


async def test_a_typing_request_that_succeeds_flushes_a_held_update(autojump_clock,
                                                                    transport):
    """In the background (no socket, no heartbeat) any successful call brings the update out."""
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        transport.network = False
        manager.update_status(AWAY)
        await trio.sleep(100)
        transport.network = True
        await trio.sleep(100)
        assert since(t0, transport.statuses()) == [(0, "away")]  # held, not retried
        manager.keystroke(10)
        await trio.sleep(1)
        assert since(t0, transport.statuses()) == [(0, "away"), (200, "away")]


async def test_the_heartbeat_probes_a_network_that_came_back(autojump_clock, transport):
    t0 = trio.current_time()
    transport.refuse_upgrade = answer(503)  # the socket never comes up
    async with manager_on(transport) as manager:
        transport.network = False
        manager.foreground()
        await trio.sleep(20)
        transport.network = True
        await trio.sleep(15)
        assert since(t0, transport.statuses()) == [(0, "online"), (30, "online")]


async def test_a_refused_update_is_not_resent(autojump_clock, transport):
    transport.respond = lambda call: answer(422)
    async with manager_on(transport) as manager:
        manager.update_status(AWAY)
        await trio.sleep(100)
        assert len(transport.statuses()) == 1
