"""SocketSession's deadlines on MockClock: the real host and core, a scripted socket.

A peer that stops reading cannot be produced reliably with real sockets (kernel buffers
absorb megabytes), so the 30-second write deadline is tested here, in no wall time.
"""

from __future__ import annotations

import trio
import trio.testing

from presence_actors import MemoryStore, PresenceStatus
from web.auth import Identity
from web.demo import directory_data
from web.host import ServiceHost
from web.session import SocketSession

from .conftest import DIRECTORY, test_settings


class ScriptedSocket:
    """Takes `writable` frames, then blocks every write, like a peer that stopped reading."""

    def __init__(self, writable: int = 10**9) -> None:
        self.writable = writable
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.incoming_send, self.incoming = trio.open_memory_channel(10)

    async def accept(self) -> None:
        pass

    async def send(self, frame: str) -> None:
        if len(self.sent) >= self.writable:
            await trio.sleep_forever()
        self.sent.append(frame)

    async def receive(self):
        return await self.incoming.receive()

    async def close(self, code: int) -> None:
        self.closed_with = code


async def _session(nursery, socket, expires_in: float = 3600.0, **overrides):
    host = ServiceHost(test_settings(**overrides), MemoryStore(directory_data(DIRECTORY)))
    await host.start(nursery)
    identity = Identity(1, None, host.wall.now() + expires_in)
    done = trio.Event()

    async def run() -> None:
        async with host.service.subscribe(1, "phone") as sub:
            await SocketSession(socket, host, identity, "phone", sub).run()
        done.set()

    nursery.start_soon(run)
    await trio.testing.wait_all_tasks_blocked()  # subscribed, initial state written
    assert socket.sent and '"initial_state"' in socket.sent[0]
    return host, done


async def test_a_socket_that_cannot_take_a_write_for_30_s_is_closed_with_1013(autojump_clock):
    socket = ScriptedSocket(writable=1)  # the initial state goes out, nothing after it
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, socket)
            started = trio.current_time()
            await host.service.set_status(2, "laptop", PresenceStatus.ONLINE)  # a push
            await done.wait()
            assert socket.closed_with == 1013
            assert 30 <= trio.current_time() - started <= 31
            assert host.sockets == 0
            await host.stop()


async def test_a_token_expiring_while_connected_closes_with_4401_after_the_leeway(
        autojump_clock):
    socket = ScriptedSocket()
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, socket, expires_in=600, jwt_leeway=10)
            started = trio.current_time()
            await done.wait()
            assert socket.closed_with == 4401
            assert 609 <= trio.current_time() - started <= 611
            await host.stop()


async def test_draining_closes_every_socket_with_1001(autojump_clock):
    socket = ScriptedSocket()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, socket)
            await trio.testing.wait_all_tasks_blocked()
            await host.drain()
            assert done.is_set() and socket.closed_with == 1001
            await host.stop()


async def test_a_frame_over_4_kib_closes_with_1009_even_without_hypercorns_limit(
        autojump_clock):
    socket = ScriptedSocket()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, socket)
            await socket.incoming_send.send("x" * 4097)
            await done.wait()
            assert socket.closed_with == 1009
            await host.stop()


async def test_a_quiet_healthy_socket_stays_open_and_gets_pushes(autojump_clock):
    socket = ScriptedSocket()
    with trio.fail_after(7200):
        async with trio.open_nursery() as nursery:
            host, done = await _session(nursery, socket)
            await trio.sleep(3000)  # MockClock: no wall time; nothing closes an idle socket
            assert not done.is_set() and socket.closed_with is None
            await host.service.set_status(2, "laptop", PresenceStatus.AWAY)
            await trio.testing.wait_all_tasks_blocked()
            assert '"status":"away"' in socket.sent[-1]
            await host.drain()
            await host.stop()
