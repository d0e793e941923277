"""Aborted upgrades and upgrade storms through a real hypercorn server on SQLite (issue 8
items 11 and 13; the reliability audit's scripts A and B).

A: hundreds of upgrades, each reset (RST) a random 0-4 ms after its request was sent,
left most of their users online for ever with no socket. B: concurrent upgrades of one
user opened up to 218 sockets against a cap of 20.
"""

from __future__ import annotations

import random
import socket
import struct

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from presence_actors import PresenceStatus
from presence_actors.actor import USER
from storage import open_store
from tests.storage.helpers import wait_until

from .conftest import make_token, receive_json, serving, test_settings

USERS = range(1, 101)
DIRECTORY = {"users": [{"id": uid, "display_name": f"user {uid}"} for uid in USERS],
             "circles": [{"id": 1, "name": "everyone", "members": list(USERS)}]}
GRACE = 0.3


async def _sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/presence.db"
    async with open_store(url) as store:
        await store.import_directory(DIRECTORY)
    return url


async def _aborted_upgrade(port: int, user_id: int, rng: random.Random) -> None:
    """Send an upgrade request, wait 0-4 ms, then reset the connection (SO_LINGER 0)."""
    sock = trio.socket.socket()
    await sock.connect(("127.0.0.1", port))
    request = (f"GET /api/presence/subscribe?token={make_token(user_id)}&device_id=ph "
               "HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
    await sock.send(request.encode())
    await trio.sleep(rng.uniform(0, 0.004))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _stuck(server) -> list[int]:
    """Users the service shows online though none of their sockets is open, and live
    user actors (an idle actor retires: a live one past the grace holds a device)."""
    service = server.service
    online = [uid for uid, record in service.context.board.items()
              if record.status is not PresenceStatus.OFFLINE and not service.socket_count(uid)]
    live = [uid for uid in USERS if service.registry.live(USER, uid) is not None]
    return sorted({*online, *live})


@pytest.mark.slow
async def test_regression_aborted_upgrades_leave_no_user_online_without_a_socket(tmp_path):
    settings = test_settings(database_url=await _sqlite_url(tmp_path), disconnect_grace=GRACE)
    rng = random.Random(8_11)
    async with serving(settings) as server:
        port = int(server.url.rsplit(":", 1)[1])
        for _round in range(3):  # 300 upgrades, 100 at a time
            async with trio.open_nursery() as nursery:
                for uid in USERS:
                    nursery.start_soon(_aborted_upgrade, port, uid, rng)
        # Every aborted handshake ends (its handler returns or is cancelled), then each
        # device that did connect outlives its socket by the grace, and its actor retires.
        await wait_until(lambda: not _stuck(server) and not server.host.sockets, timeout=20)
        assert server.service.statistics().subscribers == 0
        await trio.sleep(GRACE + 0.2)  # a window in which nobody may come back online
        assert _stuck(server) == []
        async with server.client(1) as ada:
            users = (await ada.get("/api/presence/users")).json()
        assert {user["status"] for user in users} == {"offline"}


class Storm:
    """60 concurrent upgrades of one user: what each got, and when all have an answer."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.outcome: dict = {}
        self.answered, self.hold = trio.Event(), trio.Event()

    def count(self, what) -> None:
        self.outcome[what] = self.outcome.get(what, 0) + 1
        if sum(self.outcome.values()) == self.size:
            self.answered.set()

    async def upgrade(self, server, index: int) -> None:
        url = f"{server.ws_url}?device_id=d{index}"
        headers = [(b"authorization", f"Bearer {make_token(1)}".encode())]
        try:
            async with open_websocket_url(url, extra_headers=headers) as ws:
                await receive_json(ws, timeout=30)
                self.count("open")
                await self.hold.wait()
        except ConnectionRejected as rejected:
            self.count(rejected.status_code)


@pytest.mark.slow
async def test_regression_concurrent_upgrades_end_with_exactly_the_cap_open(tmp_path):
    settings = test_settings(database_url=await _sqlite_url(tmp_path), max_sockets_per_user=5)
    async with serving(settings) as server:
        storm = Storm(60)
        async with trio.open_nursery() as nursery:
            for index in range(storm.size):
                nursery.start_soon(storm.upgrade, server, index)
            with trio.fail_after(60):
                await storm.answered.wait()
            assert server.service.socket_count(1) == 5
            storm.hold.set()
        assert storm.outcome == {"open": 5, 429: 55}
