"""The socket layer at its edges, on real hypercorn sockets: what a socket costs, slow and
vanished peers, close codes, capacity, and shutdown (issue 8 items 8, 16-18, 20)."""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, ConnectionRejected

from presence_actors import PresenceStatus
from web.server import OncePerInterval

from .conftest import bearer, make_token, receive_json, serving, test_settings
from .raw_client import CLOSE, TEXT, RawClient

ROOT = Path(__file__).resolve().parents[2]


async def _raw_socket(server, user: int = 1, **kw) -> RawClient:
    client = await RawClient.connect(
        server.url, f"/api/presence/subscribe?token={make_token(user)}", **kw)
    with trio.fail_after(5):
        assert (await client.upgraded()).startswith(b"HTTP/1.1 101")
    return client


def _tasks() -> int:
    def count(task) -> int:
        return 1 + sum(count(t) for n in task.child_nurseries for t in n.child_tasks)

    return count(trio.lowlevel.current_root_task())


def _closes(server) -> dict[str, float]:
    lines = server.host.metrics.render().decode().splitlines()
    return {line.split('"')[1]: float(line.split()[-1]) for line in lines
            if line.startswith("presence_sockets_closed_total{")}


# --- what a socket costs ---------------------------------------------------------------------


async def test_an_open_socket_costs_one_task_hypercorns_read_loop(server):
    """Quart ran two tasks per socket, the session two more, hypercorn three (with its
    pinger and the app task): memory per idle socket was 57 KB. Now the subscribe route
    is driven from hypercorn's read loop and the pump writes and pings."""
    first = await _raw_socket(server, 1)  # warm: user 1's actor, the pump's watcher task
    await trio.testing.wait_all_tasks_blocked()
    before = _tasks()
    clients = [await _raw_socket(server, 1) for _ in range(10)]
    await trio.testing.wait_all_tasks_blocked()
    assert _tasks() - before == 10
    for client in [first, *clients]:
        await client.aclose()


# --- slow, silent and vanished peers ----------------------------------------------------------


async def test_a_slow_consumer_gets_a_1013_close_frame_once_it_reads_again():
    """A socket that cannot take a write for write_timeout is closed with 1013 — with a
    close frame, not a bare TCP cut, when the peer takes the end of its frame in time."""
    settings = test_settings(write_timeout=0.5, close_timeout=2.0, status_min_interval=0.0,
                             user_status_burst=1_000_000,
                             ws_ping_interval=100)
    async with serving(settings) as server:
        client = await _raw_socket(server, 1, receive_buffer=1024)
        raw = server.host.sessions[1][0].raw
        statuses = [PresenceStatus.ONLINE, PresenceStatus.AWAY]
        with trio.fail_after(30):  # Grace flips until the server gives up on a write
            i = 0
            while not raw.overdue:
                await server.service.set_status(2, "laptop", statuses[i % 2])
                i += 1
            frames = await client.frames_until_eof()  # reading again
            await server.host.sockets_at_most(0)
        assert frames[-1].close_code == 1013
        assert all(f.opcode == TEXT for f in frames[:-1])
        assert _closes(server) == {"1013": 1.0}
        await client.aclose()


async def test_a_peer_that_never_answers_the_close_is_dropped_after_the_close_timeout():
    async with serving(test_settings(close_timeout=0.3)) as server:
        client = await _raw_socket(server)
        assert (await client.frame()).opcode == TEXT  # initial_state
        server.host.close_sessions_of(1)  # and the client never answers
        with trio.fail_after(3):
            frames = await client.frames_until_eof()
        assert [f.close_code for f in frames if f.opcode == CLOSE] == [4403]
        await client.aclose()


async def test_nothing_of_a_vanished_peers_connection_outlives_it():
    """hypercorn's ping task slept on for up to an interval after its socket was gone,
    holding the connection's task group and objects (and making shutdown wait for it)."""
    async with serving(test_settings(ws_ping_interval=15)) as server:
        warm = await _raw_socket(server)  # user 1's actor, the pump's watcher
        await trio.testing.wait_all_tasks_blocked()
        before = _tasks()
        client = await _raw_socket(server)
        assert (await client.frame()).opcode == TEXT
        await client.aclose()  # FIN, no close frame
        with trio.fail_after(5):
            await server.host.sockets_at_most(1)
        await trio.testing.wait_all_tasks_blocked()
        assert _tasks() == before
        await warm.aclose()


# --- close codes -----------------------------------------------------------------------------


async def test_a_user_removed_from_the_directory_has_their_sockets_closed_with_4403(server):
    async with server.subscribe(1) as ada, server.subscribe(2) as grace:
        await receive_json(ada)
        await receive_json(grace)
        assert server.host.close_sessions_of(1) == 1
        with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            while True:
                await ada.get_message()
        assert closed.value.reason.code == 4403
        await grace.send_message('{"type": "ping"}')  # the others are untouched
        assert await receive_json(grace) == {"type": "pong"}


async def test_a_plain_http_get_of_the_websocket_path_is_426(server):
    async with server.client(1) as client:
        response = await client.get("/api/presence/subscribe")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"
    assert "WebSocket" in response.json()["detail"]


# --- capacity ---------------------------------------------------------------------------------


async def test_beyond_the_socket_capacity_upgrades_get_503_and_health_checks_answer():
    async with (
        serving(test_settings(max_sockets=2)) as server,
        server.subscribe(1) as one, server.subscribe(2) as two,
    ):
        await receive_json(one)
        await receive_json(two)
        with pytest.raises(ConnectionRejected) as rejected:
            async with server.subscribe(3):
                pytest.fail("a third socket was accepted")
        assert rejected.value.status_code == 503
        assert dict(rejected.value.headers)[b"retry-after"] == b"1"
        async with server.client(None) as anyone:
            assert (await anyone.get("/healthz")).status_code == 200
            metrics = (await anyone.get("/metrics")).text
        assert "presence_sockets_capacity 2.0" in metrics
        assert 'presence_rejected_sockets_total{status="503"} 1.0' in metrics


def test_serving_raises_the_soft_fd_limit_to_the_hard_one():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    code = ("import resource\n"
            "from web.server import prepare_process\n"
            f"resource.setrlimit(resource.RLIMIT_NOFILE, (64, {hard}))\n"
            "print(prepare_process(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60).stdout
    assert out.split() == [str(hard), str(hard)]


def test_accept_errors_are_logged_once_per_interval_without_a_traceback():
    now = [0.0]
    quiet = OncePerInterval(interval=10.0, clock=lambda: now[0])
    logger = logging.getLogger("test.accept")

    def record() -> logging.LogRecord:
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            return logger.makeRecord(logger.name, logging.ERROR, __file__, 1,
                                     "accept returned %s (%s); retrying in %s seconds",
                                     ("EMFILE", "Too many open files", 0.1), sys.exc_info())

    passed = []
    for step in range(100):  # ten seconds of trio retrying every 100 ms
        now[0] = step / 10
        entry = record()
        if quiet.filter(entry):
            passed.append(entry)
    now[0] = 10.0
    passed += [entry for entry in [record()] if quiet.filter(entry)]
    assert len(passed) == 2
    assert all(entry.exc_info is None and entry.exc_text is None for entry in passed)
    assert passed[1].getMessage().endswith("(99 more like it in the last 10 s)")


# --- shutdown ---------------------------------------------------------------------------------


async def test_shutdown_with_open_sockets_does_not_wait_out_hypercorns_graceful_timeout():
    settings = test_settings(ws_ping_interval=15, shutdown_timeout=10)  # graceful: 5 s
    async with serving(settings) as server:
        sockets = [await _raw_socket(server, 1 + i % 3) for i in range(6)]
        started = trio.current_time()
        server.shutdown.set()
        with trio.fail_after(10):
            await server.stopped.wait()
        assert trio.current_time() - started < 4.0  # before: ~5 s, hypercorn's graceful wait
        for client in sockets:
            await client.aclose()


async def test_shutdown_answers_every_keep_alive_request_it_has_read():
    """Requests on keep-alive connections during shutdown get a response (the last with
    `Connection: close`) or a refused connect — never a connection closed under them."""
    outcomes: list[str] = []
    started = trio.Event()
    async with serving(test_settings(shutdown_timeout=4)) as server:

        async def client(user: int) -> None:
            limits = httpx.Limits(max_connections=1)
            async with httpx.AsyncClient(base_url=server.url, headers=bearer(user),
                                         limits=limits, timeout=10) as http:
                for n in range(10**6):
                    try:
                        response = await http.get(f"/api/presence/users/{user}")
                    except httpx.ConnectError:
                        outcomes.append("refused")
                        return
                    except (httpx.ReadError, httpx.RemoteProtocolError) as error:
                        outcomes.append(f"dropped: {error!r}")
                        return
                    if n == 20:
                        started.set()
                    if response.headers.get("connection") == "close":
                        outcomes.append("told to close")
                        return

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(client, 1 + i % 3)
            with trio.fail_after(10):
                await started.wait()
            server.shutdown.set()
    assert len(outcomes) == 20
    assert not [o for o in outcomes if o.startswith("dropped")], outcomes
