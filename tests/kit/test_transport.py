"""The in-memory transport: the `presence_client.Transport` contract over the real app, the
Python client running on it, an httpx client on it, and the same answers as a real socket."""

from __future__ import annotations

import re

import pytest
import trio

from presence_actors.testing import VirtualClient, open_presence_kit, presence_update
from presence_client import (
    NetworkTransport,
    PresenceStatus,
    SocketClosed,
    UpgradeRejected,
    open_presence_manager,
)
from tests.web.conftest import make_token, serving

SUBSCRIBE = "/api/presence/subscribe"


async def test_http_through_httpx_answers_as_the_app(presence):
    response = await presence.http.get("/api/presence/users/2",
                                       headers={"Authorization": f"Bearer {presence.token(1)}"})
    assert response.status_code == 200
    assert response.json() == {"user_id": 2, "status": "offline", "last_seen": None,
                               "is_typing": False}
    assert (await presence.http.get("/api/presence/users/2")).status_code == 401


async def test_an_upgrade_answered_with_http_is_upgrade_rejected(presence):
    with pytest.raises(UpgradeRejected) as rejected:
        async with presence.transport.open_websocket(SUBSCRIBE, headers={}):
            pytest.fail("upgraded without a token")
    assert rejected.value.status == 401
    assert rejected.value.headers["www-authenticate"] == "Bearer"
    assert rejected.value.body == {"detail": "Not authenticated"}


async def test_frames_in_and_out_and_the_servers_close_code(presence):
    path = f"{SUBSCRIBE}?token={presence.token(1)}&device_id=phone"
    async with presence.transport.open_websocket(path, headers={}) as ws:
        assert '"initial_state"' in await ws.receive()
        await ws.send('{"type": "ping"}')
        assert await ws.receive() == '{"type":"pong"}'
        await ws.send("x" * 4097)
        with pytest.raises(SocketClosed) as closed:
            await ws.receive()
        assert closed.value.code == 1009
        with pytest.raises(SocketClosed):  # and it stays closed
            await ws.send('{"type": "ping"}')


async def test_leaving_the_block_is_a_disconnect_the_service_sees(presence):
    path = f"{SUBSCRIBE}?token={presence.token(1)}"
    async with presence.transport.open_websocket(path, headers={}) as ws:
        await ws.receive()
        await presence.settle()
        assert presence.service.socket_count(1) == 1
    await presence.settle()
    assert presence.service.socket_count(1) == 0


async def test_the_python_client_runs_on_the_kit_through_ten_minutes(presence):
    grace = await presence.client(2).subscribe()
    async with open_presence_manager(presence.transport, device_id="ada-phone") as ada:
        ada.handle_login(presence.token(1))
        ada.foreground()
        await presence.advance(120)  # heartbeats at 30, 60, 90 and 120 s
        assert ada.connected
        assert ada.view.presence(2).status is PresenceStatus.ONLINE
        ada.background()  # its `away` waits out the 5 s window the 120 s heartbeat opened
        assert await grace.next_frame() == presence_update(1, "online", presence.timestamp(0))
        assert await grace.next_frame() == presence_update(1, "away", presence.timestamp(125))
        assert await grace.next_frame() == presence_update(1, "offline", presence.timestamp(125))
        assert presence.elapsed == 125 + 600  # the away TTL, in no wall time


# --- the in-memory transport answers as a real socket does -------------------------------

async def _script(client: VirtualClient, watcher: VirtualClient) -> list:
    """The same calls over any transport; what came back, with times blanked."""
    seen: list = []
    socket = await watcher.subscribe()
    seen.append(socket.initial_state)
    ada = await client.subscribe()
    seen += [ada.initial_state, await socket.next_frame(5)]
    seen.append(await client.set_status("away"))
    seen += [await socket.next_frame(5), await ada.next_frame(5)]
    for frame in ({"type": "ping"}, {"type": "status", "status": "online"},
                  {"type": "typing", "conversation_id": 11, "is_typing": True}, "[]",
                  {"type": "dance"}):
        await ada.send(frame)
        seen.append(await ada.next_frame(5))
    seen.append((await client.request("GET", "/api/presence/users/4")).body)
    seen.append((await client.request("POST", "/api/presence/status",
                                      json={"status": "busy"})).body)
    await ada.close()
    await socket.close()
    return _blank(seen)


def _blank(value: object) -> object:
    if isinstance(value, str):
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", value)
    if isinstance(value, list):
        return [_blank(item) for item in value]
    if isinstance(value, dict):
        return {key: _blank(item) for key, item in value.items()}
    return value


async def test_the_in_memory_transport_answers_as_a_real_socket_does():
    async with open_presence_kit() as kit:  # the real clock: a real server runs beside it
        in_memory = await _script(kit.client(1, "phone"), kit.client(2, "laptop"))
    async with serving() as server, trio.open_nursery() as nursery:
        transport = NetworkTransport(server.url)

        def client(user: int, device: str) -> VirtualClient:
            return VirtualClient(transport, nursery, user, make_token(user), device,
                                 trio.lowlevel.checkpoint)

        over_the_network = await _script(client(1, "phone"), client(2, "laptop"))
        await transport.aclose()
    assert in_memory == over_the_network
    assert len(in_memory) == 13
