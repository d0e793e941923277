"""Seed iOS test: "WebSocket reconnects automatically with backoff" (fake transport,
autojump clock): delays of min(16, 2^attempt) s, reset after a healthy connection."""

from __future__ import annotations

import itertools

import trio
from trio.testing import wait_all_tasks_blocked

from presence_client import ConnectionChanged, ViewSynced

from .conftest import manager_on
from .fakes import answer


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


async def test_backoff_delays_are_1_2_4_8_16_16(autojump_clock, transport):
    transport.network = False
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(100)
        assert gaps(transport.connects)[:7] == [1, 2, 4, 8, 16, 16, 16]


async def test_backoff_resets_after_a_healthy_connection(autojump_clock, transport):
    t0 = trio.current_time()
    transport.network = False
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(5)  # attempts at 0, 1, 3 failed: the next waits 4 s
        transport.network = True
        await trio.sleep(15)  # connected at 7, up 13 s >= healthy_after (10 s)
        transport.sockets[0].close(1001)  # the server restarts
        await trio.sleep(2)
        assert [at - t0 for at in transport.connects] == [0, 1, 3, 7, 21]  # 1 s after the drop


async def test_a_short_lived_connection_does_not_reset_the_backoff(autojump_clock, transport):
    t0 = trio.current_time()
    transport.network = False
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(5)
        transport.network = True
        await trio.sleep(9)  # connected at 7, up 7 s < healthy_after
        transport.sockets[0].close(1001)
        await trio.sleep(10)
        assert [at - t0 for at in transport.connects] == [0, 1, 3, 7, 22]  # 14 + 8 s


async def test_a_connection_that_drops_at_once_keeps_backing_off(autojump_clock, transport):
    transport.close_at_once = 1011  # accepted, synced, dropped: not a healthy connection
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(100)
        assert gaps(transport.connects)[:6] == [1, 2, 4, 8, 16, 16]
        assert len(transport.sockets) == len(transport.connects)


async def test_an_upgrade_429_waits_its_retry_after(autojump_clock, transport):
    transport.refuse_upgrade = answer(429, retry_after="9")
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(30)
        assert gaps(transport.connects)[:2] == [9, 9]


async def test_a_silent_socket_is_pinged_then_replaced(autojump_clock, transport):
    transport.auto_pong = False  # a peer that vanished without a FIN
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(62)
        first = transport.sockets[0]
        assert first.sent == [{"type": "ping"}] and first.closed_by_client
        assert [at - t0 for at in transport.connects] == [0, 61]  # 30 s, ping, 30 s, 1 s


async def test_a_socket_that_answers_pings_is_kept(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(301)
        assert len(transport.connects) == 1
        assert transport.sockets[0].sent == [{"type": "ping"}] * 10


async def test_connection_events_and_resync(autojump_clock, transport):
    async with manager_on(transport) as manager:
        events = []
        manager.view.on_change(events.append)
        manager.foreground()
        await wait_all_tasks_blocked()
        transport.sockets[0].close(1001)
        await trio.sleep(2)
        assert events == [ConnectionChanged(True), ViewSynced(0),
                          ConnectionChanged(False, 1.0), ConnectionChanged(True), ViewSynced(0)]


async def test_a_malformed_frame_is_skipped_and_the_socket_kept(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await wait_all_tasks_blocked()
        socket = transport.sockets[0]
        socket._send.send_nowait("not json")
        socket.push({"type": "presence_update", "data": {"user_id": 2}})
        socket.push({"type": "presence_update",
                     "data": {"user_id": 2, "status": "away", "last_seen": None}})
        await wait_all_tasks_blocked()
        assert manager.connected and len(transport.connects) == 1
        assert manager.view.presence(2).status.value == "away"
