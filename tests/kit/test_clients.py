"""Virtual clients speak the real API: device keys, errors, frames exactly as on the wire."""

from __future__ import annotations

import pytest

from presence_actors.testing import (
    ApiError,
    error,
    pong,
    presence_update,
    typing_update,
)


async def test_a_status_post_answers_the_aggregate_and_reaches_subscribers(presence):
    grace = await presence.client(2, "laptop").subscribe()
    posted = await presence.client(1, "phone").set_status("away")
    assert posted == {"user_id": 1, "status": "away", "last_seen": presence.timestamp(0)}
    assert grace.take() == [presence_update(1, "away", presence.timestamp(0))]


async def test_initial_state_is_the_get_shape_of_every_visible_user(presence):
    await presence.client(3, "phone").set_status("away")
    await presence.advance(7)
    socket = await presence.client(1, "web").subscribe()
    assert socket.initial_state == {"type": "initial_state", "data": {
        "presences": [
            {"user_id": 1, "status": "online", "last_seen": presence.timestamp(7),
             "is_typing": False},
            {"user_id": 2, "status": "offline", "last_seen": None, "is_typing": False},
            {"user_id": 3, "status": "away", "last_seen": presence.timestamp(0),
             "is_typing": False},
        ],
        "typing": [],
    }}
    assert socket.frames == [socket.initial_state] and socket.take() == []


async def test_device_keys_are_validated_as_the_api_does(presence):
    with pytest.raises(ApiError) as refused:
        await presence.client(1, "bad id!").set_status("online")
    assert refused.value.status == 422
    assert refused.value.detail[0]["loc"] == ["header", "X-Device-ID"]
    with pytest.raises(ApiError) as upgrade:
        await presence.client(1, "x" * 65).subscribe()
    assert upgrade.value.status == 422


async def test_clients_without_a_device_share_the_default_one(presence):
    phone, tablet = presence.client(1), presence.client(1)
    await phone.set_status("online")
    with pytest.raises(ApiError) as refused:  # the same (user, device) within 5 s
        await tablet.set_status("away")
    assert (refused.value.status, refused.value.retry_after) == (429, 5)
    assert refused.value.headers["retry-after"] == "5"


async def test_a_device_from_the_tokens_sid_claim(presence):
    laptop = presence.client(1, token=presence.token(1, sid="laptop"))
    phone = presence.client(1, "phone")
    await laptop.set_status("online")
    await phone.set_status("away")  # another device: not rate limited
    assert (await phone.presence(1))["status"] == "online"


async def test_invisible_and_unknown_users_are_both_404(presence):
    ada = presence.client(1)
    for user in (4, 99):  # Linus exists but shares nothing with Ada; 99 does not exist
        with pytest.raises(ApiError) as missing:
            await ada.presence(user)
        assert (missing.value.status, missing.value.detail) == (404, "Not found")
    assert [p["user_id"] for p in await ada.presences([1, 4, 99, 3])] == [1, 3]
    with pytest.raises(ApiError) as typing:
        await ada.typing(11)  # Grace and Alan's conversation
    assert typing.value.status == 404


async def test_an_unknown_user_or_a_bad_token_is_401(presence):
    with pytest.raises(ApiError) as stranger:
        await presence.client(99).set_status("online")
    assert stranger.value.status == 401
    assert stranger.value.headers["www-authenticate"] == "Bearer"
    with pytest.raises(ApiError) as forged:
        await presence.client(1, token="not.a.token").subscribe()
    assert forged.value.status == 401


async def test_raw_requests_answer_whatever_status_came(presence):
    ada = presence.client(1)
    response = await ada.request("POST", "/api/presence/status", json={"status": "busy"})
    assert response.status == 422
    assert response.body["detail"][0]["loc"] == ["body", "status"]
    assert (await ada.request("GET", "/healthz", headers={})).status == 200


async def test_typing_is_pushed_to_the_other_participants_only(presence):
    ada, grace = presence.client(1), presence.client(2)
    ada_socket, grace_socket = await ada.subscribe(), await grace.subscribe()
    assert ada_socket.take() == [presence_update(2, "online", presence.timestamp(0))]
    answer = await ada.typing(10)
    assert answer == {"conversation_id": 10, "user_id": 1, "is_typing": True,
                      "expires_at": presence.timestamp(5)}
    assert grace_socket.take() == [typing_update(1, 10, True)]
    assert ada_socket.take() == []


async def test_socket_frames_follow_the_rest_rules_and_errors_keep_the_socket_open(presence):
    grace = await presence.client(2, "laptop").subscribe()
    ada = await presence.client(1, "phone").subscribe()
    await ada.ping()
    await ada.set_status("away")
    await ada.set_status("online")  # within 5 s of the away: refused
    await ada.typing(11)  # not Ada's conversation
    await ada.send("not json")
    assert ada.take() == [
        pong(),
        presence_update(1, "away", presence.timestamp(0)),  # subscribers see themselves too
        error("rate_limited", "Too many requests; retry after 5 s"),
        error("not_found", "Not found"),
        error("invalid_frame", "Frame is not valid JSON"),
    ]
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                            presence_update(1, "away", presence.timestamp(0))]
    assert not ada.closed


async def test_next_frame_waits_through_virtual_time(presence):
    grace = await presence.client(2).subscribe()
    await presence.client(1, "phone").set_status("online")
    assert await grace.next_frame() == presence_update(1, "online", presence.timestamp(0))
    assert await grace.next_frame() == presence_update(1, "offline", presence.timestamp(0))
    assert presence.elapsed == 60


async def test_a_frame_over_4_kib_closes_the_socket_with_1009(presence):
    socket = await presence.client(1).subscribe()
    await socket.send("x" * 4097)
    assert socket.closed and socket.close_code == 1009


async def test_closing_a_socket_is_a_disconnect_the_grace_then_applies(presence):
    grace = await presence.client(2).subscribe()
    phone = await presence.client(1, "phone").subscribe()
    await presence.advance(3)
    await phone.close()
    assert phone.closed and phone.close_code is None  # we closed it, not the server
    await presence.advance(10)
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0)),
                            presence_update(1, "offline", presence.timestamp(3))]
