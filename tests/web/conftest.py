"""A real hypercorn server on port 0 per test, with httpx and trio-websocket as clients.

The directory (SPEC §4) the tests share:

    1 Ada    partner of 2; circle 7 with 2 and 3; conversation 10 with 2
    2 Grace  partner of 1; circle 7; conversations 10 and 11
    3 Alan   circle 7; conversation 11 with 2
    4 Linus  alone: sees only himself (invisible to the others)
    5 Edsger alone
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from presence_actors import MemoryStore
from web.app import create_app
from web.config import Settings
from web.demo import directory_data
from web.host import host_of
from web.server import serve

SECRET = "test-secret-that-is-long-enough-for-hs256-hs384-and-even-hs512-keys!"
DIRECTORY = {
    "users": [{"id": i, "display_name": n} for i, n in
              enumerate(["Ada", "Grace", "Alan", "Linus", "Edsger"], start=1)],
    "partnerships": [[1, 2]],
    "circles": [{"id": 7, "name": "Book club", "members": [1, 2, 3]}],
    "conversations": [{"id": 10, "participants": [1, 2]}, {"id": 11, "participants": [2, 3]}],
}


def make_token(sub: object = 1, ttl: float = 300, secret: str = SECRET, algorithm: str = "HS256",
               **claims: object) -> str:
    payload = {"sub": str(sub) if isinstance(sub, int) else sub, "exp": int(time.time() + ttl)}
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm=algorithm)


def bearer(user: object = 1, **kw: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, **kw)}"}


def test_settings(**overrides: object) -> Settings:
    # hypercorn's ping loop outlives a closed socket by up to one interval, and shutdown
    # waits for it (up to shutdown_timeout / 2): keep both short so tests stop quickly.
    values: dict[str, object] = {"jwt_secret": SECRET, "port": 0, "ws_ping_interval": 0.5,
                                 "dead_peer_timeout": 20.0, "shutdown_timeout": 1.0}
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # a helper, not a test


@dataclass
class Server:
    app: object
    url: str
    settings: Settings
    store: object
    shutdown: trio.Event
    stopped: trio.Event

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/api/presence/subscribe"

    @property
    def host(self):
        return host_of(self.app)

    @property
    def service(self):
        return self.host.service

    def client(self, user: object = 1, **headers: str) -> httpx.AsyncClient:
        auth = bearer(user) if user is not None else {}
        return httpx.AsyncClient(base_url=self.url, headers={**auth, **headers}, timeout=10)

    def subscribe(self, user: int = 1, query: str = "", headers=(), token: str | None = None,
                  authorization: bool = True):
        token = make_token(user) if token is None else token
        auth = [(b"authorization", f"Bearer {token}".encode())] if authorization else []
        return open_websocket_url(
            self.ws_url + query, extra_headers=[*auth, *headers], message_queue_size=64
        )

    async def stop(self) -> None:
        self.shutdown.set()
        await self.stopped.wait()


@asynccontextmanager
async def serving(settings: Settings | None = None, store=None, directory=DIRECTORY):
    settings = settings or test_settings()
    if store is None and settings.database_url is None:
        store = MemoryStore(directory_data(directory))
    # No gc.freeze() at start: in a test run it would move every live object of the
    # session into the permanent generation, per app, for good (a leak across the suite).
    app = create_app(settings, store=store, freeze_heap=False)
    shutdown, stopped = trio.Event(), trio.Event()

    async def run(task_status=trio.TASK_STATUS_IGNORED):
        try:
            await serve(app, settings, shutdown, task_status=task_status)
        finally:
            stopped.set()

    async with trio.open_nursery() as nursery:
        urls = await nursery.start(run)
        yield Server(app, urls[0], settings, store, shutdown, stopped)
        shutdown.set()


@pytest.fixture
async def server():
    async with serving() as running:
        yield running


async def receive_json(ws, timeout: float = 5.0) -> dict:
    with trio.fail_after(timeout):
        return orjson.loads(await ws.get_message())


async def wait_for(ws, predicate, timeout: float = 5.0) -> dict:
    """The first message matching `predicate` (earlier ones are skipped), under a deadline."""
    with trio.fail_after(timeout):
        while True:
            message = orjson.loads(await ws.get_message())
            if predicate(message):
                return message


def presence_of(user_id: int, status: str | None = None):
    def match(message: dict) -> bool:
        return (message["type"] == "presence_update" and message["data"]["user_id"] == user_id
                and (status is None or message["data"]["status"] == status))
    return match



ROOT = Path(__file__).resolve().parents[2]


async def serve_process(tmp_path: Path, fds: int | None = None, stderr=subprocess.DEVNULL,
                        **settings: str):
    """`presence-actors serve` as a process (secret SECRET, data in `tmp_path`, `fds`: its
    file-descriptor limit); (process, url) once its banner says it is listening."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_PORT": "0",
           "PRESENCE_JWT_SECRET": SECRET, "PRESENCE_DATA_DIR": str(tmp_path),
           "PRESENCE_SHUTDOWN_TIMEOUT": "2",
           **{f"PRESENCE_{k.upper()}": v for k, v in settings.items()}}

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fds, fds))

    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "web.cli", "serve"], env=env, stdout=subprocess.PIPE,
        stderr=stderr, preexec_fn=limited if fds is not None else None)
    banner = b""
    with trio.fail_after(30):
        while b"\n" not in banner:
            chunk = await process.stdout.receive_some()
            assert chunk, "serve exited before listening"
            banner += chunk
    return process, banner.decode().splitlines()[0].rsplit(" ", 1)[1]


async def hypercorn_cli(tmp_path: Path, **settings: str):
    """The documented hypercorn CLI command as a process, from `tmp_path` (demo directory
    on, dev secret in tmp_path/.presence); (process, url) once it says it is running."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_PORT": "0", "PRESENCE_DEMO": "1",
           "PRESENCE_SHUTDOWN_TIMEOUT": "2",
           **{f"PRESENCE_{k.upper()}": v for k, v in settings.items()}}
    hypercorn = Path(sys.executable).with_name("hypercorn")
    process = await trio.lowlevel.open_process(
        [str(hypercorn), "-c", "python:web.hypercorn_conf", "web.hypercorn_conf:create_app()"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    seen = b""
    with trio.fail_after(30):
        while b"Running on http://" not in seen or not seen.endswith(b"\n"):
            chunk = await process.stderr.receive_some()
            assert chunk, seen
            seen += chunk
    return process, seen.split(b"Running on ")[1].split()[0].decode()
