"""SocketSession's deadlines and close codes on MockClock: the real host, core and pump, and
a scripted ASGI peer (no direct socket, so every write goes through ASGI messages).

A peer that stops reading cannot be produced reliably with real sockets (kernel buffers
absorb megabytes), so the 30-second write deadline is tested here, in no wall time; the
real-socket versions of these rules are in test_websocket.py and test_socket_edges.py.
"""

from __future__ import annotations

import orjson
import trio
import trio.testing

from presence_actors import MemoryStore, PresenceStatus
from web.demo import directory_data
from web.host import ServiceHost
from web.subscribe import PATH, SubscribeRoute

from .conftest import DIRECTORY, make_token, test_settings


class ScriptedPeer:
    """The ASGI side of one socket. Takes `writable` frames, then blocks every write, like
    a peer that stopped reading; answers a close frame unless `answers_close` is off."""

    def __init__(self, writable: int = 10**9, answers_close: bool = True) -> None:
        self.writable = writable
        self.answers_close = answers_close
        self.sent: list[str] = []
        self.messages: list[str] = []
        self.closed_with: int | None = None
        self.to_server, self._incoming = trio.open_memory_channel(1000)

    async def receive(self) -> dict:
        return await self._incoming.receive()

    async def send(self, message: dict) -> None:
        self.messages.append(message["type"])
        if message["type"] == "websocket.send":
            if len(self.sent) >= self.writable:
                await trio.sleep_forever()
            self.sent.append(message["text"])
        elif message["type"] == "websocket.close":
            self.closed_with = message["code"]
            if self.answers_close:
                self.to_server.send_nowait({"type": "websocket.disconnect", "code": 1000})

    def frame(self, text: str) -> None:
        self.to_server.send_nowait({"type": "websocket.receive", "text": text, "bytes": None})

    def replies(self, kind: str) -> list[dict]:
        return [m for m in map(orjson.loads, self.sent) if m["type"] == kind]


async def _session(nursery, peer: ScriptedPeer, expires_in: float = 3600.0, **overrides):
    """A socket of user 1 (device "phone") through the real admission and session."""
    host = ServiceHost(test_settings(**overrides), MemoryStore(directory_data(DIRECTORY)))
    await host.start(nursery)
    token = make_token(1, ttl=expires_in)
    scope = {"type": "websocket", "path": PATH, "http_version": "1.1",
             "headers": [(b"authorization", f"Bearer {token}".encode())],
             "query_string": b"device_id=phone", "extensions": {"websocket.http.response": {}}}
    done = trio.Event()

    async def run() -> None:
        await SubscribeRoute(host)(scope, peer.receive, peer.send)
        done.set()

    peer.to_server.send_nowait({"type": "websocket.connect"})
    nursery.start_soon(run)
    await trio.testing.wait_all_tasks_blocked()  # subscribed, initial state written
    assert peer.sent and '"initial_state"' in peer.sent[0]
    return host, done


def _closes(host) -> dict[str, float]:
    lines = host.metrics.render().decode().splitlines()
    return {line.split('"')[1]: float(line.split()[-1]) for line in lines
            if line.startswith("presence_sockets_closed_total{")}


async def test_a_socket_that_cannot_take_a_write_for_30_s_is_closed_with_1013(autojump_clock):
    peer = ScriptedPeer(writable=1)  # the initial state goes out, nothing after it
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer)
            started = trio.current_time()
            await host.service.set_status(2, "laptop", PresenceStatus.ONLINE)  # a push
            await done.wait()
            assert peer.closed_with == 1013
            assert 30 <= trio.current_time() - started <= 31
            assert host.sockets == 0 and _closes(host) == {"1013": 1.0}
            await host.stop()


async def test_a_token_expiring_while_connected_closes_with_4401_after_the_leeway(
        autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer, expires_in=600, jwt_leeway=10)
            started = trio.current_time()
            await done.wait()
            assert peer.closed_with == 4401
            assert 609 <= trio.current_time() - started <= 611
            await host.stop()


async def test_draining_closes_every_socket_with_1001(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer)
            await host.drain()
            assert done.is_set() and peer.closed_with == 1001
            await host.stop()


async def test_a_frame_over_4_kib_closes_with_1009_even_without_hypercorns_limit(
        autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer)
            peer.frame("x" * 4097)
            await done.wait()
            assert peer.closed_with == 1009 and _closes(host) == {"1009": 1.0}
            await host.stop()


async def test_a_quiet_healthy_socket_stays_open_and_gets_pushes(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(7200):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer)
            await trio.sleep(3000)  # MockClock: no wall time; nothing closes an idle socket
            assert not done.is_set() and peer.closed_with is None
            await host.service.set_status(2, "laptop", PresenceStatus.AWAY)
            await trio.testing.wait_all_tasks_blocked()
            assert '"status":"away"' in peer.sent[-1]
            await host.drain()
            await host.stop()


async def test_a_removed_user_is_closed_with_4403(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer)
            assert host.close_sessions_of(2) == 0  # nobody else is touched
            assert host.close_sessions_of(1) == 1
            await done.wait()
            assert peer.closed_with == 4403 and _closes(host) == {"4403": 1.0}
            await host.stop()


async def test_a_client_within_the_frame_rate_is_never_refused(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer, ws_frame_rate=20, ws_frame_burst=40)
            for _ in range(40):  # a burst, at once
                peer.frame('{"type": "ping"}')
            await trio.sleep(2.0)  # the bucket refills
            for _ in range(200):  # then 20 a second, for 10 s
                peer.frame('{"type": "ping"}')
                await trio.sleep(0.05)
            await trio.testing.wait_all_tasks_blocked()
            assert peer.replies("error") == [] and peer.replies("pong")
            assert not done.is_set()
            await host.drain()
            await host.stop()


async def test_a_frame_flood_gets_rate_limited_errors_and_then_1008(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer, ws_frame_rate=20, ws_frame_burst=40)
            for _ in range(60):  # 40 allowed at once, then refusals
                peer.frame('{"type": "ping"}')
            await trio.testing.wait_all_tasks_blocked()
            errors = peer.replies("error")
            assert errors and errors[-1]["data"]["code"] == "rate_limited"
            assert not done.is_set()  # refused, not yet closed
            for _ in range(40):  # and it keeps going at full speed
                peer.frame('{"type": "ping"}')
            await done.wait()
            assert peer.closed_with == 1008
            refused = [line for line in host.metrics.render().decode().splitlines()
                       if line.startswith("presence_socket_frames_refused_total")]
            assert refused == ["presence_socket_frames_refused_total 41.0"]  # 20 + 21
            await host.stop()


async def test_a_frame_rate_of_0_means_no_limit(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, peer, ws_frame_rate=0, ws_frame_burst=1)
            for _ in range(500):
                peer.frame('{"type": "ping"}')
            await trio.testing.wait_all_tasks_blocked()
            assert peer.replies("error") == [] and not done.is_set()
            await host.drain()
            await host.stop()


async def test_a_session_cancelled_by_the_server_says_goodbye_with_1001(autojump_clock):
    peer = ScriptedPeer()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await _session(nursery, peer)
            nursery.cancel_scope.cancel()  # as hypercorn's CLI does after its graceful timeout
    assert peer.closed_with == 1001
