"""The one write a start makes (SPEC §5, issue 8.4), with real `serve` processes on SQLite.

Statuses an earlier run left online are set offline (`last_seen` kept) only once the node
is listening, before its banner; a `serve` that fails — here on a port the first server
holds — changes no row of the store that server uses. (That no other CLI command marks
anything offline is tested in tests/storage/test_cli.py.)
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest
import trio

from tests.storage.helpers import wait_until

from .conftest import SECRET, make_token

ROOT = Path(__file__).resolve().parents[2]


class Serve:
    """`python -m web.cli serve` on the data dir's SQLite store, its log in a file."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir, self.port = data_dir, port
        self.log = data_dir / f"serve-{port}-{os.urandom(3).hex()}.log"
        self.process: trio.Process | None = None
        self.url = ""

    async def start(self) -> trio.Process:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_SHUTDOWN_TIMEOUT": "2"}
        with self.log.open("wb") as log:
            self.process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--jwt-secret", SECRET],
                env=env, stdout=-1, stderr=log)
        return self.process

    async def banner(self) -> str:
        """The URL of the banner's first line (waits for it)."""
        seen = b""
        with trio.fail_after(30):
            while b"\n" not in seen:
                chunk = await self.process.stdout.receive_some()
                assert chunk, self.log.read_text()
                seen += chunk
        first = seen.decode().splitlines()[0]
        assert first.startswith("presence-actors listening on http://"), first
        self.url = first.rsplit(" ", 1)[1]
        return self.url

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        with trio.fail_after(30):
            return await self.process.wait()


def rows(data_dir: Path) -> list[tuple]:
    database = sqlite3.connect(f"file:{data_dir}/presence.db?mode=ro", uri=True)
    try:
        return database.execute("SELECT user_id, status, last_seen, updated_at "
                                 "FROM user_presence ORDER BY user_id").fetchall()
    finally:
        database.close()


async def left_online(tmp_path: Path) -> tuple[Serve, list[tuple]]:
    """A server whose users 1 and 2 are online and persisted so; returns it and the rows."""
    first = Serve(tmp_path)
    await first.start()
    url = await first.banner()
    for user_id in (1, 2):
        headers = {"Authorization": f"Bearer {make_token(user_id)}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            response = await client.post("/api/presence/status", json={"status": "online"})
            assert response.status_code == 200
    await wait_until(lambda: [r[1] for r in rows(tmp_path)] == ["online", "online"], 10)
    return first, rows(tmp_path)


@pytest.mark.slow
async def test_regression_a_serve_on_a_busy_port_changes_no_row_of_the_running_one(tmp_path):
    first, before = await left_online(tmp_path)
    try:
        port = int(first.url.rsplit(":", 1)[1])
        second = Serve(tmp_path, port)
        await second.start()
        with trio.fail_after(30):
            assert await second.process.wait() == 1
        assert "is already in use" in second.log.read_text()
        assert rows(tmp_path) == before  # status, last_seen and updated_at untouched
    finally:
        assert await first.stop() == 0


@pytest.mark.slow
async def test_statuses_left_online_are_set_offline_once_the_next_node_listens(tmp_path):
    first, before = await left_online(tmp_path)
    await first.stop(signal.SIGKILL)  # no graceful stop: the rows stay online
    assert [r[1] for r in rows(tmp_path)] == ["online", "online"]
    nxt = Serve(tmp_path)
    await nxt.start()
    try:
        await nxt.banner()
        after = rows(tmp_path)  # already done when the banner is printed
        assert [r[1] for r in after] == ["offline", "offline"]
        assert [r[2] for r in after] == [r[2] for r in before]  # last_seen kept
        log = nxt.log.read_text()
        assert log.index("Running on http://") < log.index(
            "2 statuses left by an earlier run set offline")
    finally:
        assert await nxt.stop() == 0


async def test_under_the_hypercorn_cli_the_app_marks_offline_when_it_starts(
        tmp_path, monkeypatch):
    # hypercorn binds its sockets before it loads `create_app()`: the app's start is the
    # first moment the node can do it, and no later failure can be a port.
    from presence_actors import PresenceRecord, PresenceStatus
    from storage import open_store
    from web.app import create_app
    from web.demo import DEMO_DIRECTORY

    url = f"sqlite:///{tmp_path}/presence.db"
    async with open_store(url) as store:
        await store.import_directory(DEMO_DIRECTORY)
        store.persist(PresenceRecord(1, PresenceStatus.ONLINE, 1_700_000_000.0))
        await store.flush()
    [(_, status, last_seen, _)] = rows(tmp_path)
    assert status == "online"
    monkeypatch.setenv("PRESENCE_DATABASE_URL", url)
    monkeypatch.setenv("PRESENCE_JWT_SECRET", SECRET)
    app = create_app()
    async with app.test_app():
        assert [row[:3] for row in rows(tmp_path)] == [(1, "offline", last_seen)]
