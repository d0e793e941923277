"""The socket pump on MockClock, with stand-in sessions: one flush per scheduled session
and pass, each socket pinged once per interval (spread, not all at once), expired tokens
closed from the wheel."""

from __future__ import annotations

import trio
import trio.testing

from web.frames import text_frame
from web.pump import SocketPump


class FakeSession:
    def __init__(self, expiry: float = 10**9) -> None:
        self.raw = object()  # pingable
        self.expiry = expiry
        self.is_open = True
        self.pings: list[float] = []
        self.flushes = 0
        self.closed_with: int | None = None

    def ping(self, quiet_since: float) -> None:  # the socket's turn (it decides to ping)
        self.pings.append(trio.current_time())
        self.quiet_since = quiet_since

    def flush(self) -> None:
        self.flushes += 1

    def close(self, code: int) -> None:
        self.closed_with = code
        self.is_open = False


async def _running(nursery, pump: SocketPump) -> None:
    await nursery.start(pump.run)


async def test_a_scheduled_session_is_flushed_once_per_pass(autojump_clock):
    pump = SocketPump(ping_interval=None)
    sessions = [FakeSession() for _ in range(1000)]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await _running(nursery, pump)
            for session in sessions:
                pump.schedule(session)
            await trio.testing.wait_all_tasks_blocked()
            assert [s.flushes for s in sessions] == [1] * 1000
            nursery.cancel_scope.cancel()


async def test_each_socket_is_pinged_once_per_interval_however_few_there_are(autojump_clock):
    """Regression: with fewer sockets than ticks per interval, every socket was pinged on
    every tick (rounding each tick's share up to one)."""
    pump = SocketPump(ping_interval=8.0)  # ticks of 1 s
    alone = FakeSession()
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            await _running(nursery, pump)
            pump.add(alone)
            await trio.sleep(80)
            nursery.cancel_scope.cancel()
    assert 9 <= len(alone.pings) <= 11
    assert alone.quiet_since == alone.pings[-1] - 0.9 * 8.0  # pinged if quiet that long


async def test_pings_are_spread_over_the_interval_not_sent_all_at_once(autojump_clock):
    pump = SocketPump(ping_interval=8.0)
    sessions = [FakeSession() for _ in range(800)]
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            await _running(nursery, pump)
            for session in sessions:
                pump.add(session)
            await trio.sleep(16.5)
            nursery.cancel_scope.cancel()
    assert all(len(s.pings) == 2 for s in sessions)
    per_tick: dict[float, int] = {}
    for s in sessions:
        per_tick[round(s.pings[0])] = per_tick.get(round(s.pings[0]), 0) + 1
    assert max(per_tick.values()) == 100  # 800 sockets over 8 ticks


async def test_a_closed_session_is_no_longer_pinged(autojump_clock):
    pump = SocketPump(ping_interval=2.0)
    session = FakeSession()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await _running(nursery, pump)
            pump.add(session)
            await trio.sleep(5)
            session.is_open = False
            pinged = len(session.pings)
            await trio.sleep(10)
            nursery.cancel_scope.cancel()
    assert pinged >= 2 and len(session.pings) == pinged


async def test_a_token_expiring_closes_its_socket_with_4401_within_a_second(autojump_clock):
    pump = SocketPump(ping_interval=None)
    start = trio.current_time()
    soon, later, forgotten = (FakeSession(start + 5.2), FakeSession(start + 30),
                              FakeSession(start + 5.2))
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await _running(nursery, pump)
            for session in (soon, later, forgotten):
                pump.add(session)
            pump.discard(forgotten)  # closed before its token ran out
            await trio.sleep(7)
            assert soon.closed_with == 4401 and later.closed_with is None
            assert forgotten.closed_with is None
            nursery.cancel_scope.cancel()


def test_a_payload_is_framed_once_per_pass_however_many_sockets_it_goes_to():
    pump = SocketPump(ping_interval=None)
    change = b'{"type":"presence_update","data":{"user_id":1}}'
    first, second = pump.frames_of([change]), pump.frames_of([change, b"{}"])
    assert first[0] is second[0] and first[0] == text_frame(change)
    assert second[1] == text_frame(b"{}")
