"""Real `presence-actors serve` processes on one Redis (a test key prefix) and one SQLite
file (WAL: several processes may share it), driven through real sockets: httpx for REST,
trio-websocket for subscriptions. Short timings so that node death and expiry fit in a
test: `NODE_TTL` 2 s, online TTL 4 s, disconnect grace 1 s, typing 3 s.

Waits are on observable state under a deadline (`until`, `frame`), never fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
import trio
from trio_websocket import open_websocket_url

from tests.web.conftest import DIRECTORY, SECRET, make_token

ROOT = Path(__file__).resolve().parents[2]
NODE_TTL = 2.0
ONLINE_TTL = 4.0
TYPING_TTL = 3.0
START_BOUND = 60.0  # a serve process on a loaded two-core machine
SETTINGS = {
    "node_ttl": NODE_TTL,
    "online_ttl": ONLINE_TTL,
    "disconnect_grace": 1.0,
    "typing_ttl": TYPING_TTL,
    "shutdown_timeout": 2.0,
    "demo": "0",
}


class Node:
    """One `serve` process: its URL once listening, its log in a file."""

    def __init__(self, name: str, data_dir: Path, redis_url: str) -> None:
        self.name, self.data_dir, self.redis_url = name, data_dir, redis_url
        self.log = data_dir / f"node-{name}.log"
        self.process: trio.Process | None = None
        self.url = ""

    async def start(self) -> Node:
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS.items()]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_REDIS_URL": self.redis_url}
        with self.log.open("ab") as log:
            self.process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "web.cli", "serve", "--port", "0",
                 "--data-dir", str(self.data_dir), "--jwt-secret", SECRET, *flags],
                env=env, stdout=-1, stderr=log)
        seen = b""
        with trio.fail_after(START_BOUND):
            while b"\n" not in seen:
                chunk = await self.process.stdout.receive_some()
                assert chunk, self.log.read_text()
                seen += chunk
        first = seen.decode().splitlines()[0]
        assert first.startswith("presence-actors listening on http://"), first
        self.url = first.rsplit(" ", 1)[1]
        return self

    def client(self, user: int, device: str = "default") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {make_token(user)}", "X-Device-ID": device}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    def subscribe(self, user: int, device: str = "default"):
        url = self.url.replace("http", "ws", 1) + "/api/presence/subscribe"
        headers = [(b"authorization", f"Bearer {make_token(user)}".encode()),
                   (b"x-device-id", device.encode())]
        return open_websocket_url(url, extra_headers=headers, message_queue_size=256)

    async def status_of(self, viewer: int, user: int) -> dict:
        async with self.client(viewer) as client:
            response = await client.get(f"/api/presence/users/{user}")
            assert response.status_code == 200, response.text
            return response.json()

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        with trio.fail_after(START_BOUND):
            return await self.process.wait()


def import_directory(data_dir: Path) -> None:
    """The tests' directory (tests/web/conftest.py) in the shared SQLite file."""
    import subprocess

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "directory.json"
    path.write_bytes(orjson.dumps(DIRECTORY))
    subprocess.run([sys.executable, "-m", "web.cli", "directory", "import", str(path),
                    "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=60,
                   cwd=ROOT)


@asynccontextmanager
async def nodes(data_dir: Path, redis_url: str, names: str = "abc"):
    """Nodes started side by side (each waits to have joined the others), stopped after."""
    import_directory(data_dir)
    started = {name: Node(name, data_dir, redis_url) for name in names}
    try:
        async with trio.open_nursery() as nursery:
            for node in started.values():
                nursery.start_soon(node.start)
        yield started
    finally:
        with trio.CancelScope(shield=True):
            for node in started.values():
                if node.process is not None and node.process.returncode is None:
                    node.process.send_signal(signal.SIGTERM)
            for node in started.values():
                if node.process is not None:
                    with trio.move_on_after(START_BOUND):
                        await node.process.wait()
                    if node.process.returncode is None:
                        node.process.kill()


async def frame(ws, predicate: Callable[[dict], bool], timeout: float = 5.0,
                seen: list | None = None) -> dict:
    """The first message matching `predicate`; earlier ones go to `seen` (if given)."""
    with trio.fail_after(timeout):
        while True:
            message = orjson.loads(await ws.get_message())
            if predicate(message):
                return message
            if seen is not None:
                seen.append(message)


def presence(user_id: int, status: str | None = None) -> Callable[[dict], bool]:
    def match(message: dict) -> bool:
        return (message["type"] == "presence_update" and message["data"]["user_id"] == user_id
                and (status is None or message["data"]["status"] == status))
    return match


def typing(user_id: int, conversation_id: int, is_typing: bool) -> Callable[[dict], bool]:
    def match(message: dict) -> bool:
        return message["type"] == "typing_update" and message["data"] == {
            "user_id": user_id, "conversation_id": conversation_id, "is_typing": is_typing}
    return match


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> float:
    """Poll an observable condition until it holds; the seconds it took (fails on timeout)."""
    start = trio.current_time()
    with trio.fail_after(timeout):
        while True:
            if await condition():
                return trio.current_time() - start
            await trio.sleep(0.05)
