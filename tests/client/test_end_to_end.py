"""The seed's iOS test checklist end to end: `PresenceManager` against the real service on
the testing kit (the real app in memory, `MockClock`, the seed's timings on both sides),
observed by a second, virtual client. Every time below is virtual seconds since the start,
and exact: the backoff, the rate window, the TTLs and the debounce are the real ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise

import pytest
import trio

from presence_actors import Timing
from presence_actors.testing import (
    DEFAULT_DIRECTORY,
    presence_removed,
    presence_update,
    typing_update,
)
from presence_client import (
    PresenceRemoved,
    PresenceStatus,
    SessionExpired,
    SessionState,
    UserPresence,
    open_presence_manager,
)

from .live import ACCEPTED, RecordingTransport, client, serve_kit

HOUR = 3600.0
WITHOUT_ADA = {  # the default directory after Ada (1) left it
    "users": [user for user in DEFAULT_DIRECTORY["users"] if user["id"] != 1],
    "circles": [{"id": 7, "name": "Book club", "members": [2, 3]}],
    "conversations": [{"id": 11, "participants": [2, 3]}],
}


def at(seconds: float) -> datetime:
    """The kit's default start plus `seconds`, as the client parses `last_seen`."""
    return datetime(2024, 1, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)


def expirations(manager, transport: RecordingTransport) -> list[tuple[float, str]]:
    """(when, reason) of every `SessionExpired` the manager publishes from now on."""
    seen: list[tuple[float, str]] = []
    manager.view.on_change(lambda event: seen.append((transport.now(), event.reason))
                           if isinstance(event, SessionExpired) else None)
    return seen


async def assert_nothing_sent_for_an_hour(presence, manager) -> None:
    calls, connects = len(manager.transport.calls), len(manager.transport.connects)
    manager.update_status("away")
    manager.keystroke(10)
    await presence.advance(HOUR)
    assert (len(manager.transport.calls), len(manager.transport.connects)) == (calls, connects)
    assert manager.session_state is SessionState.EXPIRED and not manager.connected


async def log_in_again(presence, manager, user: int) -> None:
    manager.handle_login(presence.token(user))
    await presence.settle()
    assert manager.connected and manager.session_state is SessionState.ACTIVE


async def test_lifecycle_moves_the_status_others_see(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1) as ada:
        assert ada.connected and set(ada.view.presences) == {1, 2, 3}
        await presence.advance(10)
        ada.background()
        await presence.advance(12)
        ada.foreground()
        await presence.advance(40)  # a heartbeat at 52
        ada.terminate()  # nothing is sent: the socket goes and the server's grace runs
        await presence.advance(9.9)
        assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                                presence_update(1, "away", presence.timestamp(10)),
                                presence_update(1, "online", presence.timestamp(22))]
        await presence.advance(0.1)
        assert grace.take() == [presence_update(1, "offline", presence.timestamp(62))]
        assert ada.transport.statuses() == [(0, "online", 200), (10, "away", 200),
                                            (22, "online", 200), (52, "online", 200)]
        assert ada.transport.attempts() == [(0, ACCEPTED), (22, ACCEPTED)]


async def test_the_heartbeat_keeps_a_socketless_device_online_past_the_ttl(presence):
    """Regression: the heartbeat that takes over from a dropped socket went in the instant
    of the close, reached the server first, and the close's 10 s grace won: the user
    flapped offline between 110 and 131."""
    grace = await presence.client(2).subscribe()
    async with client(presence, 1) as ada:
        await presence.advance(100)
        ada.transport.sockets = False  # a proxy drops the socket and every new one...
        ada.transport.go_offline()
        ada.transport.network = True  # ...while REST works: only heartbeats keep it alive
        await presence.advance(600)
        assert grace.take() == [presence_update(1, "online", presence.timestamp(0))]
        beats = [0, 30, 60, 90, *range(101, 701, 30)]  # 1 s after the close, then every 30 s
        assert ada.transport.statuses() == [(t, "online", 200) for t in beats]
        assert (await grace.client.presence(1))["status"] == "online"


async def test_a_burst_of_five_sends_two_and_meets_no_429(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1, foreground=False) as ada:
        for status in ("online", "away", "online", "online", "away"):
            ada.update_status(status)
            await presence.advance(1)
        await presence.advance(HOUR)
        assert ada.transport.statuses() == [(0, "online", 200), (5, "away", 200)]
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                            presence_update(1, "away", presence.timestamp(5)),
                            presence_update(1, "offline", presence.timestamp(5))]  # away TTL


async def test_an_offline_period_queues_the_update_and_flushes_it_on_reconnect(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1) as ada:
        await presence.advance(20)
        ada.transport.go_offline()  # the socket drops, requests and connects fail
        ada.update_status("away")  # fails, and is held: no retry on a timer of its own
        await presence.advance(70)
        ada.transport.network = True
        await presence.advance(20)
        # The heartbeats (50, 80) probe with the held update; the reconnect at 99 is the
        # first call that succeeds, and the held `away` goes right after it.
        assert ada.transport.statuses() == [(0, "online", 200), (20, "away", None),
                                            (50, "away", None), (80, "away", None),
                                            (99, "away", 200)]
        attempts = ada.transport.attempts(since=20)
        assert attempts[-1] == (99, ACCEPTED)
        assert [b - a for (a, _), (b, _) in pairwise(attempts)] == [2, 4, 8, 16, 16, 16, 16]
        assert attempts[0] == (21, None)
        assert ada.view.presence(1).status is PresenceStatus.AWAY
    assert grace.take() == [
        presence_update(1, "online", presence.timestamp(0)),
        presence_update(1, "offline", presence.timestamp(20)),  # at 30: the grace ended
        presence_update(1, "online", presence.timestamp(99)),  # a connect is activity
        presence_update(1, "away", presence.timestamp(99)),
    ]


@pytest.mark.presence(timing=Timing(max_sockets_per_user=1))
async def test_the_app_refusing_the_socket_backs_off_1_2_4_8_16_16(presence):
    holder = await presence.client(1, "tablet").subscribe()  # the user's only socket
    async with client(presence, 1) as ada:
        await presence.advance(50)
        assert not ada.connected
        await holder.close()
        await presence.advance(20)
        attempts = ada.transport.attempts()
        assert [answer for _, answer in attempts] == [429] * 7 + [ACCEPTED]  # the app's own
        assert [b - a for (a, _), (b, _) in pairwise(attempts)] == [1, 2, 4, 8, 16, 16, 16]
        assert ada.connected and attempts[-1][0] == 63


async def test_a_server_restart_backs_off_and_initial_state_catches_up(autojump_clock):
    async with trio.open_nursery() as servers:
        first_stop = trio.Event()
        first = await servers.start(serve_kit, first_stop)
        transport = RecordingTransport(first.transport, first.wall.to_trio(first.start))
        async with open_presence_manager(transport, device_id="py-1") as ada:
            ada.handle_login(first.token(1))
            ada.foreground()
            await first.advance(30)
            first_stop.set()  # the server goes down (closing the socket with 1001)...
            transport.inner = None
            await trio.sleep(20)
            second_stop = trio.Event()  # ...and comes back at 50, where Grace is online
            second = await servers.start(partial(serve_kit, second_stop, start=first.now()))
            transport.inner = second.transport
            await second.client(2, "laptop").set_status("online")
            await second.advance(50)
            assert transport.attempts() == [(0, ACCEPTED), (31, None), (33, None), (37, None),
                                            (45, None), (61, ACCEPTED)]
            assert ada.view.presence(2) == UserPresence(2, PresenceStatus.ONLINE, at(50))
            second_stop.set()  # down again after a healthy connection: the count restarts
            transport.inner = None
            await trio.sleep(5)
            assert transport.attempts(since=100) == [(101, None), (103, None)]


async def test_an_expired_token_stops_everything_until_login(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1, token=presence.token(1, ttl=120)) as ada:
        expired = expirations(ada, ada.transport)
        await presence.advance(130)  # the socket closes with 4401 at exp + the 10 s leeway
        assert expired == [(130, "WebSocket closed with 4401 (token expired)")]
        await assert_nothing_sent_for_an_hour(presence, ada)
        assert ada.transport.statuses() == [(t, "online", 200) for t in (0, 30, 60, 90, 120)]
        await log_in_again(presence, ada, 1)
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                            presence_update(1, "offline", presence.timestamp(130)),
                            presence_update(1, "online", presence.timestamp(130 + HOUR))]


async def test_removed_from_the_directory_4403_stops_everything_until_login(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1) as ada:
        expired = expirations(ada, ada.transport)
        await presence.advance(50)
        await presence.set_directory(WITHOUT_ADA)
        assert expired == [(50, "WebSocket closed with 4403 (removed from the directory)")]
        await assert_nothing_sent_for_an_hour(presence, ada)  # no request meeting a 401
        assert ada.transport.statuses() == [(0, "online", 200), (30, "online", 200)]
        await presence.set_directory(DEFAULT_DIRECTORY)  # back in, with a new login
        await log_in_again(presence, ada, 1)
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                            presence_removed(1),
                            presence_update(1, "offline", presence.timestamp(50)),
                            presence_update(1, "online", presence.timestamp(50 + HOUR))]


async def test_logout_sends_offline_clears_state_and_login_resumes(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1) as ada:
        await presence.advance(2)
        await ada.handle_logout()  # inside the rate window: offline is never held back
        assert ada.view.presences == {} and not ada.connected
        assert ada.transport.statuses() == [(0, "online", 200), (2, "offline", 200)]
        await presence.advance(HOUR)
        assert len(ada.transport.calls) == 2 and len(ada.transport.connects) == 1
        await log_in_again(presence, ada, 1)
        assert set(ada.view.presences) == {1, 2, 3}
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                            presence_update(1, "offline", presence.timestamp(2)),
                            presence_update(1, "online", presence.timestamp(2 + HOUR))]


async def test_typing_shows_for_the_other_participant_and_clears_itself(presence):
    grace = await presence.client(2).subscribe()
    async with client(presence, 1) as ada:
        for _ in range(13):  # a keystroke every 0.5 s, from 0 to 6
            ada.keystroke(10)
            await presence.advance(0.5)
        await presence.advance(2.4)
        assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                                typing_update(1, 10, True)]
        await presence.advance(0.1)  # 3 s after the last keystroke
        assert grace.take() == [typing_update(1, 10, False)]
        # true at once, renewed every 2 s (the server forgets it after 5 s), then false
        assert ada.transport.typing(10) == [(0, True, 200), (2, True, 200), (4, True, 200),
                                            (6, True, 200), (9, False, 200)]


async def test_fetch_and_the_view_read_the_service(presence):
    await presence.client(3, "phone").set_status("away")
    async with client(presence, 1) as ada:
        await presence.advance(42)  # a heartbeat at 30
        assert await ada.fetch_presences() == [
            UserPresence(1, PresenceStatus.ONLINE, at(30)),
            UserPresence(2, PresenceStatus.OFFLINE, None),
            UserPresence(3, PresenceStatus.AWAY, at(0)),
        ]
        assert await ada.fetch_presence(3) == ada.view.presence(3)
        removed = []
        ada.view.on_change(lambda e: removed.append(e) if isinstance(e, PresenceRemoved)
                           else None)
        await presence.set_directory({**DEFAULT_DIRECTORY, "circles": []})
        assert removed == [PresenceRemoved(3)]  # Alan shared only the circle with Ada
        assert set(ada.view.presences) == {1, 2}

