"""Seed iOS test: "PresenceManager updates status on app lifecycle changes" (fake transport,
autojump clock: every time below is virtual and exact)."""

from __future__ import annotations

import itertools

import pytest
import trio
from trio.testing import wait_all_tasks_blocked

from presence_client import AppState, PresenceStatus

from .conftest import DEVICE, manager_on


def since(t0: float, pairs):
    return [(round(at - t0, 6), value) for at, value in pairs]


async def test_foreground_goes_online_connects_and_heartbeats(autojump_clock, transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(95)
        assert since(t0, transport.statuses()) == [
            (0, "online"), (30, "online"), (60, "online"), (90, "online")]
        assert [at - t0 for at in transport.connects] == [0]
        assert manager.connected and manager.app_state is AppState.FOREGROUND
        assert transport.sockets[0].headers["path"] == f"/api/presence/subscribe?device_id={DEVICE}"
        assert all(c.headers["X-Device-ID"] == DEVICE for c in transport.calls)


async def test_heartbeat_keeps_the_device_under_the_online_ttl(autojump_clock, transport):
    """The default interval leaves every gap between two status posts under the server's 60 s."""
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(601)
        times = [at for at, _ in transport.statuses()]
        assert len(times) == 21
        assert max(b - a for a, b in itertools.pairwise(times)) < 60


async def test_background_sends_a_final_away_and_stops_timer_and_socket(autojump_clock,
                                                                        transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(10)
        manager.background()
        await trio.sleep(300)
        assert since(t0, transport.statuses()) == [(0, "online"), (10, "away")]
        assert transport.sockets[0].closed_by_client
        assert len(transport.connects) == 1  # no reconnect in the background
        assert not manager.connected


async def test_background_inside_the_rate_window_still_sends_away(autojump_clock, transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(1)
        manager.background()
        await trio.sleep(20)
        assert since(t0, transport.statuses()) == [(0, "online"), (5, "away")]


async def test_foreground_again_goes_online_and_reconnects(autojump_clock, transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(10)
        manager.background()
        await trio.sleep(10)
        manager.foreground()
        await trio.sleep(1)
        assert since(t0, transport.statuses()) == [(0, "online"), (10, "away"), (20, "online")]
        assert [at - t0 for at in transport.connects] == [0, 20]
        assert len(transport.live_sockets) == 1


async def test_terminate_sends_nothing_and_closes_the_socket(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(10)
        calls = len(transport.calls)
        manager.terminate()
        await trio.sleep(300)
        assert len(transport.calls) == calls  # no offline, no away: the server times out
        assert transport.sockets[0].closed_by_client
        assert manager.app_state is AppState.TERMINATED
        with pytest.raises(trio.ClosedResourceError):
            manager.foreground()
        with pytest.raises(trio.ClosedResourceError):
            manager.update_status(PresenceStatus.AWAY)


async def test_leaving_the_block_terminates(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await wait_all_tasks_blocked()
    calls = len(transport.calls)
    await trio.sleep(100)
    assert len(transport.calls) == calls
    assert transport.sockets[0].closed_by_client


async def test_nothing_is_sent_before_login(autojump_clock, transport):
    async with manager_on(transport, token=None) as manager:
        manager.foreground()
        manager.update_status("away")
        await trio.sleep(100)
        assert transport.calls == [] and transport.connects == []


async def test_a_dropped_socket_hands_the_keepalive_back_to_the_heartbeat(autojump_clock,
                                                                          transport):
    """The socket kept the device alive; once it drops the server allows only its
    disconnect grace (10 s), so the heartbeat goes 1 s later (with the first reconnect
    attempt, after the close) rather than at 30 s."""
    t0 = trio.current_time()
    transport.network = True
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(12)
        transport.network = False  # reconnects fail from now on
        transport.sockets[0].close(1006)
        await trio.sleep(5)
        assert since(t0, transport.statuses()) == [(0, "online"), (13, "online")]
        assert since(t0, [(t, None) for t in transport.connects]) == [(0, None), (13, None),
                                                                      (15, None)]


async def test_background_while_the_online_post_is_in_flight(autojump_clock, transport):
    """Regression: the away asked for during the online request must still go out."""
    t0 = trio.current_time()
    transport.latency = 1.0
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(0.5)
        manager.background()
        await trio.sleep(30)
        assert since(t0, transport.statuses()) == [(0, "online"), (6, "away")]
