"""Seed iOS tests: "Authentication errors stop presence updates" and "handleLogin() and
handleLogout() properly manage state" (fake transport, autojump clock)."""

from __future__ import annotations

import pytest
import trio
from trio.testing import wait_all_tasks_blocked

from presence_client import (
    PresenceRemoved,
    SessionExpired,
    SessionState,
    open_presence_manager,
)
from presence_client.manager import DEVICE_ID

from .conftest import DEVICE, manager_on
from .fakes import answer, ok
from .test_lifecycle import since

ALICE = {"user_id": 2, "status": "online", "last_seen": "2024-01-01T12:00:00Z"}


def expire_after(n: int):
    """The first n requests succeed, then every one is a 401 (the token expired)."""
    count = iter(range(10**6))
    return lambda call: ok(call) if next(count) < n else answer(401)


async def assert_everything_stopped(transport, manager) -> None:
    calls, connects = len(transport.calls), len(transport.connects)
    manager.update_status("away")
    manager.keystroke(10)
    await trio.sleep(600)
    assert len(transport.calls) == calls and len(transport.connects) == connects
    assert transport.live_sockets == []
    assert manager.session_state is SessionState.EXPIRED


async def test_a_401_stops_every_update_until_login(autojump_clock, transport):
    t0 = trio.current_time()
    transport.respond = expire_after(1)
    async with manager_on(transport) as manager:
        events = []
        manager.view.on_change(events.append)
        manager.foreground()
        await trio.sleep(31)  # the heartbeat at 30 gets the 401
        assert SessionExpired("status update answered 401") in events
        await assert_everything_stopped(transport, manager)
        transport.respond = ok
        manager.handle_login("token-2")
        await trio.sleep(1)
        assert since(t0, transport.statuses())[-1] == (631, "online")
        assert transport.calls[-1].headers["Authorization"] == "Bearer token-2"
        assert len(transport.live_sockets) == 1
        assert transport.live_sockets[0].headers["Authorization"] == "Bearer token-2"


async def test_a_close_4401_stops_every_update_until_login(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await wait_all_tasks_blocked()
        transport.sockets[0].close(4401)
        await wait_all_tasks_blocked()
        await assert_everything_stopped(transport, manager)
        manager.handle_login("token-2")
        await trio.sleep(1)
        assert len(transport.live_sockets) == 1


async def test_an_upgrade_401_stops_every_update_until_login(autojump_clock, transport):
    transport.refuse_upgrade = answer(401)
    async with manager_on(transport) as manager:
        manager.foreground()
        await wait_all_tasks_blocked()
        await assert_everything_stopped(transport, manager)
        assert len(transport.connects) == 1


async def test_a_401_on_typing_stops_everything(autojump_clock, transport):
    transport.respond = lambda call: answer(401) if "typing" in call.path else ok(call)
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(1)
        manager.keystroke(10)
        await wait_all_tasks_blocked()
        await assert_everything_stopped(transport, manager)


async def test_logout_sends_offline_and_clears_the_view(autojump_clock, transport):
    transport.initial_state = {"type": "initial_state",
                               "data": {"presences": [ALICE], "typing": []}}
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(1)
        assert set(manager.view.presences) == {2}
        events = []
        manager.view.on_change(events.append)
        await manager.handle_logout()  # inside the rate window: offline is never held back
        assert since(t0, transport.statuses()) == [(0, "online"), (1, "offline")]
        assert manager.view.presences == {} and events == [PresenceRemoved(2)]
        assert manager.session_state is SessionState.LOGGED_OUT
        await trio.sleep(300)
        assert len(transport.statuses()) == 2 and transport.live_sockets == []
        manager.update_status("online")  # logged out: not sent
        await trio.sleep(10)
        assert len(transport.statuses()) == 2


async def test_login_after_logout_resumes_with_the_same_device(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(1)
        await manager.handle_logout()
        manager.handle_login("token-2")
        await trio.sleep(10)
        assert [s for _, s in transport.statuses()] == ["online", "offline", "online"]
        assert {c.headers["X-Device-ID"] for c in transport.calls} == {DEVICE}
        assert all(DEVICE in s.headers["path"] for s in transport.sockets)
        assert len(transport.live_sockets) == 1


async def test_logout_without_network_still_clears_state(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(1)
        transport.network = False
        with trio.fail_after(1):  # no answer is not a hang: the attempt fails at once
            await manager.handle_logout()
        assert manager.session_state is SessionState.LOGGED_OUT


async def test_a_new_token_reconnects_the_socket(autojump_clock, transport):
    async with manager_on(transport) as manager:
        manager.foreground()
        await trio.sleep(1)
        manager.handle_login("token-2")
        await trio.sleep(1)
        assert transport.sockets[0].closed_by_client
        assert transport.live_sockets[0].headers["Authorization"] == "Bearer token-2"


async def test_a_generated_device_id_is_stable_for_the_instance(autojump_clock, transport):
    async with open_presence_manager(transport) as manager:
        manager.handle_login("token-1")
        manager.foreground()
        await trio.sleep(1)
        await manager.handle_logout()
        manager.handle_login("token-2")
        await trio.sleep(10)
    device = manager.device_id
    assert DEVICE_ID.fullmatch(device)
    assert {c.headers["X-Device-ID"] for c in transport.calls} == {device}
    assert {s.headers["path"] for s in transport.sockets} == {
        f"/api/presence/subscribe?device_id={device}"}
    async with open_presence_manager(transport) as other:
        assert other.device_id != device


async def test_a_malformed_device_id_is_refused(autojump_clock, transport):
    with pytest.raises(ValueError, match="device_id"):
        async with open_presence_manager(transport, device_id="has space"):
            pass
