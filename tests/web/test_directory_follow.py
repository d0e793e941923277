"""Open sockets follow the directory (SPEC §4, issue 8.3), through a real server on SQLite
and on Postgres while the real CLI changes the directory from another process.

An import reaches the running node within 1 s (the store's directory version, polled
every 0.5 s); a user who becomes visible is pushed as `presence_update`; after a
`--replace` import a user who is gone is pushed as `presence_removed`, their own sockets
are closed with 4403 and their token is refused at once.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
import trio

from storage import open_store
from tests.storage.conftest import postgres_url, sqlite_url  # noqa: F401 (fixtures)

from .conftest import DIRECTORY, presence_of, receive_json, serving, test_settings, wait_for
from .test_websocket import _closed_with as closed_with

CLI = str(Path(sys.executable).with_name("presence-actors"))
WITHIN = 1.0  # SPEC §4: an import through the CLI takes effect on every node within 1 s


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request):
    url = request.getfixturevalue(f"{request.param}_url")
    async with open_store(url) as store:
        await store.import_directory(DIRECTORY)
    return url


async def cli_import(url: str, document: dict, tmp_path: Path, *flags: str) -> float:
    """`presence-actors directory import` in a process of its own; the trio time at which
    it had exited (its transaction committed)."""
    path = tmp_path / f"directory-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(document))
    result = await trio.run_process(
        [CLI, "directory", "import", *flags, "--database-url", url, str(path)],
        capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return trio.current_time()


@pytest.mark.slow
async def test_a_cli_import_reaches_open_sockets_within_a_second(store_url, tmp_path):
    async with (
        serving(test_settings(database_url=store_url)) as server,
        server.subscribe(4) as linus,
        server.client(5) as edsger,
    ):
        await receive_json(linus)
        posted = (await edsger.post("/api/presence/status", json={"status": "away"})).json()
        imported = await cli_import(store_url, {"partnerships": [[4, 5]]}, tmp_path)
        update = await wait_for(linus, presence_of(5), timeout=5)
        assert trio.current_time() - imported < WITHIN
        assert update["data"] == posted
        async with server.client(4) as rest:  # and REST agrees at once
            assert (await rest.get("/api/presence/users/5")).json()["status"] == "away"


@pytest.mark.slow
async def test_a_replace_import_removes_closes_4403_and_refuses_the_removed_user(
        store_url, tmp_path):
    without_alan = {
        "users": [u for u in DIRECTORY["users"] if u["id"] != 3],
        "partnerships": [[1, 2]],
        "circles": [{"id": 7, "name": "Book club", "members": [1, 2]}],
        "conversations": [{"id": 10, "participants": [1, 2]}],
    }
    async with (
        serving(test_settings(database_url=store_url)) as server,
        server.subscribe(1) as ada,
        server.subscribe(3) as alan,
        server.client(3) as alan_rest,
    ):
        await receive_json(ada)
        await receive_json(alan)
        imported = await cli_import(store_url, without_alan, tmp_path, "--replace")
        removed = await wait_for(ada, lambda m: m["type"] == "presence_removed", timeout=5)
        assert trio.current_time() - imported < WITHIN
        assert removed == {"type": "presence_removed", "data": {"user_id": 3}}
        assert await closed_with(alan) == 4403
        assert (await alan_rest.get("/api/presence/users")).status_code == 401
        await ada.send_message('{"type": "ping"}')  # nothing more about Alan before the pong
        assert await wait_for(ada, lambda m: True) == {"type": "pong"}


async def test_a_session_of_a_user_removed_before_it_was_registered_closes_with_4403(server):
    # The removal found no session of theirs to close: it was still being accepted.
    class Session:
        user_id, closed_with = 99, None

        def close(self, code: int) -> None:
            self.closed_with = code

    late, current = Session(), Session()
    current.user_id = 1
    server.host.add_session(late)
    server.host.add_session(current)
    assert (late.closed_with, current.closed_with) == (4403, None)
    assert server.host.close_sessions_of(1) == 1 and current.closed_with == 4403
