"""The seed's iOS test checklist end to end: PresenceManager against a real hypercorn
server (port 0, real clock, short timings on both sides), observed by a second real
client. Every wait is on an event (a view change, a recorded request), never a sleep."""

from __future__ import annotations

import itertools

import trio
from trio.testing import wait_all_tasks_blocked

from presence_client import PresenceStatus, SessionExpired, SessionState, TypingChanged
from tests.web.conftest import make_token

from .live import client, live_server, status_of, until


async def test_lifecycle_moves_the_status_others_see():
    async with live_server() as server, client(server, 2) as grace, client(server, 1) as ada:
        await until(grace, lambda: status_of(grace, 1) == "online")
        ada.background()
        await until(grace, lambda: status_of(grace, 1) == "away")
        ada.foreground()
        await until(grace, lambda: status_of(grace, 1) == "online")
        assert ada.connected and set(ada.view.presences) == {1, 2, 3}
        ada.terminate()  # nothing sent: the socket goes, the grace passes, the server decides
        await until(grace, lambda: status_of(grace, 1) == "offline")
        assert [s for s, _ in ada.transport.statuses()] == ["online", "away", "online"]


async def test_a_burst_of_five_sends_two_and_meets_no_429():
    async with live_server() as server, client(server, 2) as grace, \
            client(server, 1, foreground=False) as ada:
        for status in ("online", "away", "online", "online", "away"):
            ada.update_status(status)
            await trio.sleep(0.05)  # a burst spread over the rate window (not a wait)
        await until(grace, lambda: status_of(grace, 1) == "away")
        await ada.transport.wait_for(lambda: len(ada.transport.statuses()) == 2
                                     and ada.transport.statuses()[1][1] is not None)
        assert ada.transport.statuses() == [("online", 200), ("away", 200)]


async def test_an_offline_period_queues_the_update_and_flushes_it_on_reconnect():
    async with live_server() as server, client(server, 2) as grace, client(server, 1) as ada:
        await until(grace, lambda: status_of(grace, 1) == "online")
        lost_at = trio.current_time()
        ada.transport.go_offline()  # the socket drops; the heartbeat it triggers fails
        ada.update_status("away")  # held in memory: nothing is retried on a timer
        await until(grace, lambda: status_of(grace, 1) == "offline")  # the grace passed
        await ada.transport.wait_for(lambda: len(
            [t for t in ada.transport.connects if t > lost_at]) >= 3)
        ada.transport.network = True
        await until(grace, lambda: status_of(grace, 1) == "away")
        await ada.transport.wait_for(lambda: ada.transport.statuses()[-1] == ("away", 200))
        assert ada.transport.statuses().count(("away", 200)) == 1
        assert all(answer is None for _, answer in ada.transport.statuses()[1:-1])
        attempts = [t for t in ada.transport.connects if t >= lost_at]
        # backoff: each wait at least min(0.8, 0.1 * 2^n) (the real clock only adds)
        waits = [b - a for a, b in itertools.pairwise(attempts)]
        assert all(w >= min(0.8, 0.1 * 2 ** n) * 0.99 for n, w in enumerate(waits[1:], 1))
        await until(ada, lambda: ada.connected)


async def test_an_expired_token_stops_everything_until_login():
    async with live_server() as server, client(server, 2) as grace, \
            client(server, 1, token=make_token(1, ttl=2)) as ada:
        expired = []
        ada.view.on_change(lambda e: expired.append(e) if isinstance(
            e, SessionExpired) else None)
        await until(ada, lambda: bool(expired), timeout=15)
        assert ada.session_state is SessionState.EXPIRED and not ada.connected
        calls = len(ada.transport.calls)
        ada.update_status("away")
        ada.keystroke(10)
        await wait_all_tasks_blocked()
        assert len(ada.transport.calls) == calls  # nothing sent while expired
        await until(grace, lambda: status_of(grace, 1) == "offline")
        ada.handle_login(make_token(1))
        await until(grace, lambda: status_of(grace, 1) == "online")
        await until(ada, lambda: ada.connected)


async def test_logout_sends_offline_clears_state_and_login_resumes():
    async with live_server() as server, client(server, 2) as grace, client(server, 1) as ada:
        await until(ada, lambda: ada.connected and status_of(grace, 1) == "online")
        await ada.handle_logout()
        assert ada.transport.statuses()[-1] == ("offline", 200)
        assert ada.view.presences == {} and not ada.connected
        await until(grace, lambda: status_of(grace, 1) == "offline")
        ada.handle_login(make_token(1))
        await until(grace, lambda: status_of(grace, 1) == "online")


async def test_typing_shows_for_the_other_participant_and_clears_itself():
    async with live_server() as server, client(server, 2) as grace, client(server, 1) as ada:
        await until(ada, lambda: ada.connected)
        await until(grace, lambda: grace.connected)
        seen = []
        grace.view.on_change(lambda e: seen.append(e) if isinstance(e, TypingChanged) else None)
        ada.keystroke(10)
        await until(grace, lambda: TypingChanged(1, 10, False) in seen)
        assert seen == [TypingChanged(1, 10, True), TypingChanged(1, 10, False)]
        typing = [c.body["is_typing"] for c in ada.transport.calls if "typing" in c.path]
        assert typing == [True, False]


async def test_the_heartbeat_keeps_a_socketless_device_online_past_the_ttl():
    async with live_server() as server, client(server, 2) as grace, client(server, 1) as ada:
        await until(grace, lambda: status_of(grace, 1) == "online")
        ada.transport.sockets = False
        ada.transport.go_offline()  # the socket drops and cannot come back...
        ada.transport.network = True  # ...while REST works: only heartbeats keep it alive
        offline = []
        grace.view.on_change(lambda e: offline.append(e) if getattr(
            getattr(e, "presence", None), "status", None) is PresenceStatus.OFFLINE
            else None)
        start = trio.current_time()
        # 3 x the server's 1.5 s online TTL, measured in accepted heartbeats
        await ada.transport.wait_for(lambda: trio.current_time() - start > 4.5
                                     and ada.transport.statuses()[-1][1] == 200,
                                     timeout=20)
        assert all(answer == 200 for _, answer in ada.transport.statuses())
        assert offline == [] and status_of(grace, 1) == "online"


async def test_fetch_reads_the_rest_api():
    async with live_server() as server, client(server, 1) as ada:
        await until(ada, lambda: ada.connected)
        everyone = await ada.fetch_presences()
        assert [p.user_id for p in everyone] == [1, 2, 3]
        me = await ada.fetch_presence(1)
        assert me.status is PresenceStatus.ONLINE and me.last_seen.tzinfo is not None
