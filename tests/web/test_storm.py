"""A reconnect storm against `presence-actors serve` as a process (issue 8.16).

2,000 sockets of 500 users reconnect all at once. With hypercorn's accept backlog of 100
the kernel dropped most of those SYNs and the clients' retries (1, 3, 7, 15 s) outlasted
the 10 s disconnect grace: 111 users flapped offline and online in the audit (here, with
the backlog set back to 100: 15,000 listen overflows, connects waiting 3 s for SYN
retries, 9.4 s to settle; with 4096: none, 4.1 s). The listener's backlog is read from
the kernel (`ss`), and nobody who came back within the grace may flap.

Who came back within the grace is measured, not assumed: on a loaded 2-core machine the
storm took 23 s to settle (CPU, not SYNs), and a user whose sockets were all gone for
longer than the grace is offline by SPEC §5 (correct, not a flap). The test's clock is
the safe side of the server's: a socket is counted gone just *before* its close is sent
and back only *after* its initial_state arrived, so a gap shorter than the grace here
is shorter still on the server.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import trio

from .conftest import make_token, serve_process
from .raw_client import CLOSE, TEXT, RawClient, client_frame

ROOT = Path(__file__).resolve().parents[2]
USERS, DEVICES, CIRCLE = 500, 4, 10
GRACE = 10.0  # the server's disconnect_grace (the default, SPEC §5)


def _directory() -> dict:
    return {
        "users": [{"id": u, "display_name": f"user {u}"} for u in range(1, USERS + 1)],
        "circles": [{"id": 100 + i, "name": f"circle {i}",
                     "members": list(range(CIRCLE * i + 1, CIRCLE * i + CIRCLE + 1))}
                    for i in range(USERS // CIRCLE)],
    }


async def _serve(tmp_path: Path, **settings: str) -> tuple[trio.Process, str]:
    (tmp_path / "directory.json").write_text(json.dumps(_directory()))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_DATA_DIR": str(tmp_path)}
    with trio.fail_after(120):
        await trio.run_process(
            [sys.executable, "-m", "web.cli", "directory", "import",
             str(tmp_path / "directory.json")], env=env, capture_stdout=True, capture_stderr=True)
    return await serve_process(tmp_path, demo="0", ws_ping_interval="60",
                               dead_peer_timeout="200", shutdown_timeout="4", **settings)


async def _open(url: str, user: int, device: str) -> RawClient:
    """A socket that has its initial_state; a 503 is retried after its Retry-After, as a
    client does (a loaded machine can make the first connect of a new user slow)."""
    while True:
        client = await RawClient.connect(
            url, f"/api/presence/subscribe?token={make_token(user)}&device_id={device}")
        head = await client.upgraded()
        if not head.startswith(b"HTTP/1.1 503"):
            break
        await client.aclose()
        await trio.sleep(1)  # Retry-After: 1
    assert head.startswith(b"HTTP/1.1 101"), head
    first = await client.frame()
    assert first.opcode == TEXT and b"initial_state" in first.payload
    return client


async def _watch(client: RawClient, offline: list[int], me: int) -> None:
    while (frame := await client.frame()) is not None:
        if frame.opcode == TEXT:
            message = orjson.loads(frame.payload)
            data = message.get("data", {})
            if message["type"] == "presence_update" and data["status"] == "offline" \
                    and data["user_id"] != me:
                offline.append(data["user_id"])


async def _all(url: str, plan: list[tuple[int, str]], at_once: int,
               back: dict[int, float] | None = None) -> list[tuple[int, RawClient]]:
    """Open every (user, device) of `plan`; `back[user]`: when the user's first socket got
    its initial_state (trio time)."""
    opened: list[tuple[int, RawClient]] = []
    gate = trio.Semaphore(at_once)

    async def one(user: int, device: str) -> None:
        async with gate:
            opened.append((user, await _open(url, user, device)))
            if back is not None:
                back.setdefault(user, trio.current_time())

    async with trio.open_nursery() as nursery:
        for user, device in plan:
            nursery.start_soon(one, user, device)
    return opened


def _listen_backlog(port: int) -> tuple[int | None, int]:
    """The backlog the kernel gives the server's listening socket (`ss`: Send-Q), and
    the one it should: 4096, or the kernel's cap (`net.core.somaxconn`) if lower."""
    expected = min(4096, int(Path("/proc/sys/net/core/somaxconn").read_text()))
    if shutil.which("ss") is None:
        return None, expected
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10).stdout.split()
    return (int(out[2]) if len(out) > 2 else None), expected


@pytest.mark.slow
async def test_a_2000_socket_reconnect_storm_settles_without_anyone_flapping(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4 * USERS * DEVICES:  # this process holds one end of every socket
        pytest.skip(f"needs a file-descriptor hard limit of {4 * USERS * DEVICES} (is {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    process, url = await _serve(tmp_path)
    offline: list[int] = []
    backlog, expected = _listen_backlog(int(url.rsplit(":", 1)[1]))
    try:
        plan = [(u, f"d{d}") for u in range(1, USERS + 1) for d in range(DEVICES)]
        async with trio.open_nursery() as watchers:
            for i in range(USERS // CIRCLE):
                watcher = await _open(url, CIRCLE * i + 1, "watch")
                watchers.start_soon(_watch, watcher, offline, CIRCLE * i + 1)
            with trio.fail_after(180):  # the set-up, 200 at a time: new users are slower
                sockets = await _all(url, plan, at_once=200)
            gone: dict[int, float] = {}  # user: just before their first socket closed
            for user, client in sockets:  # everyone goes at once, politely
                gone.setdefault(user, trio.current_time())
                await client.send(client_frame(CLOSE, (1000).to_bytes(2, "big")))
                await client.aclose()
            started = trio.current_time()
            back: dict[int, float] = {}
            with trio.fail_after(120):  # ... and back at once (a loaded machine: 23 s)
                sockets = await _all(url, plan, at_once=len(plan), back=back)
            settled = trio.current_time() - started
            with trio.move_on_after(11):  # past the 10 s grace: a flap would have shown
                await trio.sleep_forever()
            watchers.cancel_scope.cancel()
        for _, client in sockets:
            await client.aclose()
    finally:
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            await process.wait()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    in_time = {user for user in gone if back[user] - gone[user] < GRACE}
    flapped = sorted(set(offline) & in_time)
    assert flapped == [], (
        f"{len(flapped)} users back within the grace flapped; settled in {settled:.1f} s, "
        f"{USERS - len(in_time)} users were away longer than the grace")
    assert backlog in (None, expected), f"listen backlog {backlog}, not {expected}"
