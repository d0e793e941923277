"""Absurd ids, nested bodies and query look-alikes: 422 in FastAPI's shape, never a 500.

Regressions from the new-user and reliability audits (issue 8 items 2, 9, 15): ids longer
than Python's 4,300-digit int-string limit were a 500 on every id route; a `status` nested
1,000 deep was a 500 (pydantic's error path recursed); `user_ids=` was a 422 and
`user_ids[]=1` silently answered with everyone; duplicate ids counted toward the limit.
"""

from __future__ import annotations

import pytest

from web.schemas import MAX_ID, id_from_text

from .conftest import receive_json

HUGE = "1" * 5000
NESTED = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("007", 7), (str(MAX_ID), MAX_ID), ("0" * 5000 + "42", 42),
    ("0", None), ("", None), (str(MAX_ID + 1), None), ("1" * 4301, None), (HUGE, None),
    ("-1", None), ("+1", None), ("1.0", None), (" 1", None), ("\u0661", None), ("\u00b2", None),
])
def test_ids_are_parsed_without_building_a_big_int(text, value):
    assert id_from_text(text) == value


async def test_regression_ids_past_the_int_string_limit_are_422_on_every_id_route(server):
    async with server.client(1) as ada:
        for digits in ["1" * 4301, HUGE, str(MAX_ID + 1)]:
            responses = [
                await ada.get(f"/api/presence/users/{digits}"),
                await ada.get("/api/presence/users", params={"user_ids": f"1,{digits}"}),
                await ada.post(f"/api/conversations/{digits}/typing", json={"is_typing": True}),
            ]
            for response, loc in zip(responses, [["path", "user_id"], ["query", "user_ids"],
                                                 ["path", "conversation_id"]], strict=True):
                assert response.status_code == 422, (len(digits), loc)
                assert response.json()["detail"][0]["loc"] == loc
        leading_zeros = await ada.get("/api/presence/users/" + "0" * 5000 + "2")
        assert leading_zeros.status_code == 200 and leading_zeros.json()["user_id"] == 2


async def test_regression_deeply_nested_json_is_422_not_500(server):
    async with server.client(1) as ada:
        for path, body in [("/api/presence/status", f'{{"status": {NESTED}}}'),
                           ("/api/conversations/10/typing", f'{{"is_typing": {NESTED}}}'),
                           ("/api/presence/status", NESTED)]:
            response = await ada.post(path, content=body.encode(),
                                      headers={"Content-Type": "application/json"})
            assert response.status_code == 422, path
            assert response.json()["detail"][0]["loc"][0] == "body"


async def test_regression_a_deeply_nested_frame_is_an_error_frame_and_the_socket_stays(server):
    async with server.subscribe(1) as ws:
        await receive_json(ws)
        await ws.send_message(f'{{"type": "status", "status": {NESTED}}}')
        error = await receive_json(ws)
        assert error["type"] == "error" and error["data"]["code"] == "invalid_frame"
        await ws.send_message('{"type": "ping"}')
        assert (await receive_json(ws))["type"] == "pong"


async def test_user_ids_edges_empty_look_alikes_and_duplicates(server):
    async with server.client(1) as ada:
        empty = await ada.get("/api/presence/users?user_ids=")
        assert empty.status_code == 200 and empty.json() == []
        for query in ["user_ids[]=1", "user_ids%5B%5D=1", "user_id=2", "user_ids[0]=1"]:
            look_alike = await ada.get(f"/api/presence/users?{query}")
            assert look_alike.status_code == 422, query
            assert look_alike.json()["detail"][0]["loc"][0] == "query"
        assert (await ada.get("/api/presence/users?_=123")).status_code == 200  # cache busters
        repeated = ",".join(["2"] * 600 + [str(i) for i in range(1, 500)])  # 499 distinct
        assert (await ada.get("/api/presence/users", params={"user_ids": repeated})
                ).status_code == 200
        distinct = ",".join(str(i) for i in range(1, 502))
        too_many = await ada.get("/api/presence/users", params={"user_ids": distinct})
        assert too_many.status_code == 422


async def test_a_plain_get_of_the_websocket_path_is_426_with_a_short_json_error(server):
    async with server.client(None) as anonymous:
        response = await anonymous.get("/api/presence/subscribe")
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"
    assert "WebSocket" in response.json()["detail"] and "browser" not in response.text
