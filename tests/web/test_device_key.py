"""One device-key resolution for REST and the WebSocket (SPEC §5, issue 8 item 1).

Regression (new-user audit, defect 1): a token whose `sid` claim was not a valid device id
was silently used as device "default", merging a user's devices into one; and a bad
`X-Device-ID` header on the WebSocket was reported as `["query", "device_id"]`.
"""

from __future__ import annotations

import json

import pytest
from trio_websocket import ConnectionRejected

from web.auth import Identity, device_key
from web.schemas import RequestInvalid

from .conftest import make_token, receive_json

BAD_SIDS = ["bad sid!", "a" * 65, "", "a/b", "ünï", 123, True, ["phone"], {"id": "x"}]


def _identity(sid: object = None) -> Identity:
    return Identity(user_id=1, session_id=sid, expires_at=0.0)


def test_the_first_source_present_decides_header_query_sid_default():
    assert device_key(_identity("tablet"), "phone", "laptop") == "phone"
    assert device_key(_identity("tablet"), None, "laptop") == "laptop"
    assert device_key(_identity("tablet"), None, None) == "tablet"
    assert device_key(_identity(None), None, None) == "default"
    assert device_key(_identity("bad sid!"), "phone") == "phone"  # sid unused, not checked


@pytest.mark.parametrize("header, query, sid, loc", [
    ("", None, None, ["header", "X-Device-ID"]),
    ("a b", "ok", "ok", ["header", "X-Device-ID"]),
    (None, "x" * 65, "ok", ["query", "device_id"]),
    (None, None, "bad sid!", ["token", "sid"]),
    (None, None, 7, ["token", "sid"]),
])
def test_a_malformed_deciding_source_is_422_naming_it(header, query, sid, loc):
    with pytest.raises(RequestInvalid) as invalid:
        device_key(_identity(sid), header, query)
    [issue] = invalid.value.issues
    assert issue["loc"] == loc and issue["type"] == "string_pattern"


@pytest.mark.parametrize("sid", BAD_SIDS, ids=repr)
async def test_regression_a_bad_sid_claim_is_422_on_rest_not_device_default(server, sid):
    token = make_token(1, sid=sid)
    async with server.client(None, Authorization=f"Bearer {token}") as client:
        status = await client.post("/api/presence/status", json={"status": "away"})
        typing = await client.post("/api/conversations/10/typing", json={"is_typing": True})
    for response in (status, typing):
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["token", "sid"]
    async with server.client(1) as default_device:  # "default" was not touched
        assert (await default_device.post("/api/presence/status", json={"status": "online"})
                ).status_code == 200


async def _rejected(server, **kwargs) -> tuple[int, dict]:
    with pytest.raises(ConnectionRejected) as rejected:
        async with server.subscribe(**kwargs):
            pytest.fail("upgraded with a malformed device key")
    return rejected.value.status_code, json.loads(rejected.value.body)


async def test_regression_websocket_device_key_errors_name_their_source(server):
    header = await _rejected(server, headers=[(b"x-device-id", b"bad device")])
    query = await _rejected(server, query="?device_id=bad%20device")
    sid = await _rejected(server, token=make_token(1, sid="bad sid!"))
    assert [status for status, _ in (header, query, sid)] == [422] * 3
    assert header[1]["detail"][0]["loc"] == ["header", "X-Device-ID"]
    assert query[1]["detail"][0]["loc"] == ["query", "device_id"]
    assert sid[1]["detail"][0]["loc"] == ["token", "sid"]


async def test_a_valid_sid_is_the_websocket_device(server):
    async with server.subscribe(1, token=make_token(1, sid="tablet")) as ws, \
            server.client(1, **{"X-Device-ID": "tablet"}) as tablet:
        await receive_json(ws)  # connected: device "tablet" is online
        away = await tablet.post("/api/presence/status", json={"status": "away"})
        # the same device went away; had the socket used "default", it would still be online
        assert away.json()["status"] == "away"
