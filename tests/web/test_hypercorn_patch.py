"""web/hypercorn_patch.py: installed explicitly, refused on a hypercorn it does not know,
and on the wire: no data frame after a close, close frames for protocol errors."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from hypercorn.trio.tcp_server import TCPServer

from web import hypercorn_patch

from .conftest import hypercorn_cli, make_token, serving, test_settings
from .raw_client import BINARY, CLOSE, PING, TEXT, RawClient, client_frame

ROOT = Path(__file__).resolve().parents[2]


# --- what it relies on ------------------------------------------------------------------------


def test_the_pinned_hypercorn_has_everything_the_patch_relies_on():
    assert hypercorn_patch.check() == []


def test_an_unknown_hypercorn_version_is_refused():
    problems = hypercorn_patch.check(version="0.19.0")
    assert problems == ["hypercorn 0.19.0 is not 0.18.0"]


def test_a_tcp_server_without_its_send_lock_is_refused():
    class Refactored:  # writes moved elsewhere: no send_lock, protocol_send no longer uses it
        def __init__(self, app, config, context, state, stream) -> None:
            self.config, self.context, self.stream = config, context, stream

        async def run(self) -> None:
            self.protocol = self.stream, self.config

        async def protocol_send(self, event) -> None:
            await self.writer.send(event)

    problems = hypercorn_patch.check(server_class=Refactored)
    assert "TCPServer.protocol_send does not use ['protocol', 'send_lock', 'stream']" in problems
    assert "TCPServer has no ['send_lock']" in problems


def test_a_ws_stream_that_builds_another_connection_is_refused():
    class Module:
        Connection = object
        WSStream = None

    problems = hypercorn_patch.check(stream_module=Module)
    assert "hypercorn.protocol.ws_stream does not build wsproto's Connection" in problems
    assert "WSStream._handle_events no longer answers a close in REMOTE_CLOSING" in problems


def test_install_refuses_an_unknown_hypercorn_and_patches_nothing(monkeypatch):
    monkeypatch.setattr(hypercorn_patch, "_original", {})
    real = hypercorn_patch.importlib.metadata.version
    monkeypatch.setattr(hypercorn_patch.importlib.metadata, "version",
                        lambda name: "0.19.0" if name == "hypercorn" else real(name))
    before = TCPServer.protocol_send
    with pytest.raises(hypercorn_patch.HypercornPatchError, match=r"hypercorn 0\.19\.0"):
        hypercorn_patch.install(hypercorn_patch.ConnectionPolicy())
    assert TCPServer.protocol_send is before


def test_importing_the_web_layer_patches_nothing():
    """The patch is installed by `serve()` and `web.hypercorn_conf`, never on import."""
    code = ("import web.app, web.server, web.session, web.subscribe\n"
            "from hypercorn.trio.tcp_server import TCPServer\n"
            "from hypercorn.protocol import ws_stream\n"
            "assert TCPServer.protocol_send.__module__ == 'hypercorn.trio.tcp_server'\n"
            "assert ws_stream.Connection.__module__ == 'wsproto.connection'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# --- on the wire ---------------------------------------------------------------------------------


async def _subscribed(server, user: int = 1) -> RawClient:
    client = await RawClient.connect(server.url,
                                     f"/api/presence/subscribe?token={make_token(user)}")
    with trio.fail_after(5):
        assert (await client.upgraded()).startswith(b"HTTP/1.1 101")
        first = await client.frame()
    assert first.opcode == TEXT and b"initial_state" in first.payload
    return client


def _closes(server) -> dict[str, float]:
    lines = server.host.metrics.render().decode().splitlines()
    return {line.split('"')[1]: float(line.split()[-1]) for line in lines
            if line.startswith("presence_sockets_closed_total{")}


async def _flip_forever(service) -> None:
    from presence_actors import PresenceStatus

    statuses = [PresenceStatus.AWAY, PresenceStatus.ONLINE]
    i = 0
    while True:
        await service.set_status(2, "laptop", statuses[i % 2])
        i += 1


async def test_no_data_frame_follows_hypercorns_own_1009_close_while_pushes_race_it():
    """hypercorn refuses a message over 4 KiB with a close frame of its own and waits for
    the peer's answer; before, the fast path kept writing pushes after that close."""
    settings = test_settings(status_min_interval=0.0, user_status_burst=1_000_000,
                             close_timeout=0.5)
    async with serving(settings) as server, trio.open_nursery() as nursery:
        client = await _subscribed(server)
        nursery.start_soon(_flip_forever, server.service)  # pushes to this socket, non-stop
        with trio.fail_after(5):
            assert (await client.frame()).opcode == TEXT  # pushes are flowing
            await client.send(client_frame(TEXT, b"x" * 5000))
            frames = await client.frames_until_eof()  # we never answer the close
        nursery.cancel_scope.cancel()
        closes = [i for i, frame in enumerate(frames) if frame.opcode == CLOSE]
        assert closes and frames[closes[0]].close_code == 1009
        assert frames[closes[0] + 1:] == []
        await client.aclose()
        assert _closes(server) == {"1009": 1.0}


@pytest.mark.parametrize(("frame", "code"), [
    (client_frame(TEXT, b'{"type": "ping"}', masked=False), 1002),
    (client_frame(0x3, b""), 1002),  # a reserved opcode
    (client_frame(TEXT, b'{"type": "ping"}', rsv=0x40), 1002),  # RSV1 without an extension
    (client_frame(PING, b"", fin=False), 1002),  # a fragmented control frame
    (client_frame(CLOSE, (999).to_bytes(2, "big")), 1002),  # an invalid close code
    (client_frame(TEXT, b"\xff\xfe not utf-8"), 1007),
])
async def test_a_protocol_violation_is_answered_with_its_close_code(frame, code):
    async with serving() as server:
        client = await _subscribed(server)
        await client.send(frame)
        with trio.fail_after(5):
            frames = await client.frames_until_eof()
        assert [f.close_code for f in frames if f.opcode == CLOSE] == [code]
        assert frames[-1].opcode == CLOSE
        await client.aclose()
        with trio.fail_after(5):
            await server.host.sockets_at_most(0)
        assert _closes(server) == {str(code): 1.0}


async def test_a_1_mib_frame_is_answered_with_a_1009_close_frame():
    async with serving(test_settings(close_timeout=0.5)) as server:
        client = await _subscribed(server)
        async with trio.open_nursery() as nursery:
            async def flood() -> None:
                with contextlib.suppress(trio.BrokenResourceError):  # dropped after its 1009
                    await client.send(client_frame(BINARY, b"x" * 2**20))

            nursery.start_soon(flood)
            with trio.fail_after(10):
                frames = await client.frames_until_eof()
        assert [f.close_code for f in frames if f.opcode == CLOSE] == [1009]
        await client.aclose()


async def test_a_ping_frame_from_the_client_is_answered_and_the_socket_stays_usable(server):
    client = await _subscribed(server)
    await client.send(client_frame(PING, b"hello"))
    await client.send(client_frame(TEXT, b'{"type": "ping"}'))
    with trio.fail_after(5):
        pong = await client.frame()
        while pong.opcode == PING:  # the server's own pings may come first
            pong = await client.frame()
        assert (pong.opcode, pong.payload) == (0xA, b"hello")
        assert (await client.frame()).payload == b'{"type":"pong"}'
    await client.aclose()


async def test_a_permessage_deflate_offer_is_declined(server):
    """A compressed client frame would cost an inflater (12 KB) for the socket's life."""
    client = await RawClient.connect(
        server.url, f"/api/presence/subscribe?token={make_token(1)}",
        headers="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    with trio.fail_after(5):
        head = await client.upgraded()
        assert head.startswith(b"HTTP/1.1 101")
        assert b"sec-websocket-extensions" not in head.lower()
        assert (await client.frame()).opcode == TEXT
        await client.send(client_frame(TEXT, b'{"type": "ping"}'))
        reply = await client.frame()
        while reply.opcode == PING:
            reply = await client.frame()
        assert reply.payload == b'{"type":"pong"}'
        await client.send(client_frame(TEXT, b"\x00", rsv=0x40))  # compressed: not agreed
        frames = await client.frames_until_eof()
    assert [f.close_code for f in frames if f.opcode == CLOSE] == [1002]
    await client.aclose()


async def test_a_socket_that_talks_is_not_pinged_and_a_quiet_one_is():
    """Pings are for silent peers: a client that sent something within the interval is
    alive, so its turn passes without a ping (F2's app pings every 30 s halve the pings)."""
    settings = test_settings(ws_ping_interval=0.4, dead_peer_timeout=5.0)
    async with serving(settings) as server:
        talker, quiet = await _subscribed(server, 1), await _subscribed(server, 2)
        seen = {id(talker): [], id(quiet): []}

        async def read(client) -> None:
            while True:
                seen[id(client)].append((await client.frame()).opcode)

        with trio.move_on_after(2.0):  # five turns each
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read, talker)
                nursery.start_soon(read, quiet)
                while True:
                    await talker.send(client_frame(TEXT, b'{"type": "ping"}'))
                    await trio.sleep(0.1)  # the client's own pace: a quarter interval
        assert PING not in seen[id(talker)] and TEXT in seen[id(talker)]  # its pongs
        assert seen[id(quiet)].count(PING) >= 3
        await talker.aclose()
        await quiet.aclose()


async def test_a_client_silent_mid_request_is_dropped_after_the_read_timeout():
    """No deadline per read, but the slow-client guard holds: the pump drops a connection
    that has sent nothing for `dead_peer_timeout` (hypercorn's read_timeout)."""
    settings = test_settings(dead_peer_timeout=0.5)
    async with serving(settings) as server:
        host, port = server.url.removeprefix("http://").split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = trio.current_time()
        with trio.fail_after(5):
            assert await stream.receive_some(1024) == b""  # closed without an answer
        assert trio.current_time() - started >= 0.5
        await stream.aclose()


@pytest.mark.slow
async def test_the_hypercorn_cli_with_the_documented_command_pings_every_socket(tmp_path):
    """hypercorn serves from a worker process that imports the app, not the config file:
    the documented app path (through web.hypercorn_conf) installs the patch there too."""
    process, url = await hypercorn_cli(tmp_path, ws_ping_interval="0.2")
    try:
        secret = (tmp_path / ".presence" / "jwt-secret").read_text().strip()
        client = await RawClient.connect(
            url, f"/api/presence/subscribe?token={make_token(1, secret=secret)}")
        with trio.fail_after(5):
            assert (await client.upgraded()).startswith(b"HTTP/1.1 101")
            assert (await client.frame()).opcode == TEXT
            assert (await client.frame()).opcode == PING  # the pump pings
        await client.aclose()
    finally:
        process.send_signal(subprocess.signal.SIGTERM)
        with trio.fail_after(20):
            assert await process.wait() == 0
