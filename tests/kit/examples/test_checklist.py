"""The seed's "Backend Tests" checklist, one test per item, on the kit."""

import pytest

from presence_actors.testing import ApiError, presence_update, typing_update


async def test_post_status_updates_the_users_presence_correctly(presence):
    ada = presence.client(1, "phone")
    answer = await ada.set_status("away")
    assert answer == {"user_id": 1, "status": "away", "last_seen": presence.timestamp(0)}
    assert (await presence.client(2).presence(1))["status"] == "away"


async def test_post_status_broadcasts_to_websocket_subscribers(presence):
    grace = await presence.client(2).subscribe()
    await presence.client(1, "phone").set_status("away")
    assert grace.take() == [presence_update(1, "away", presence.timestamp(0))]


async def test_get_users_returns_correct_presences_for_visible_users(presence):
    await presence.client(3, "phone").set_status("online")
    seen = [(p["user_id"], p["status"]) for p in await presence.client(1).presences()]
    assert seen == [(1, "offline"), (2, "offline"), (3, "online")]  # not Linus (4)


async def test_get_user_returns_404_for_non_visible_users(presence):
    with pytest.raises(ApiError) as invisible:
        await presence.client(1).presence(4)  # Linus shares nothing with Ada
    assert invisible.value.status == 404


async def test_websocket_authentication_works_with_bearer_token(presence):
    socket = await presence.client(1).subscribe()  # Authorization: Bearer <token>
    assert socket.initial_state["type"] == "initial_state"
    with pytest.raises(ApiError) as refused:
        await presence.client(1, token="not-a-token").subscribe()
    assert refused.value.status == 401


async def test_websocket_reconnection_preserves_subscription_state(presence):
    alan = await presence.client(3).subscribe()
    ada = presence.client(1, "laptop")
    socket = await ada.subscribe()
    await socket.close()                                   # the network drops
    await presence.client(2, "phone").set_status("away")  # Ada misses this
    await presence.advance(8)
    socket = await ada.subscribe()                         # back within the 10 s grace
    grace = socket.initial_state["data"]["presences"][1]
    assert grace == {"user_id": 2, "status": "away", "last_seen": presence.timestamp(0),
                     "is_typing": False}
    await presence.advance(60)
    assert alan.take() == [presence_update(1, "online", presence.timestamp(0)),
                           presence_update(2, "away", presence.timestamp(0))]  # no flap


async def test_typing_indicators_auto_expire_after_timeout(presence):
    ada = presence.client(1)
    await ada.set_status("online")  # typing alone would also bring her online (SPEC §5)
    grace = await presence.client(2).subscribe()
    await ada.typing(10)
    await presence.advance(4.9)
    assert grace.take() == [typing_update(1, 10, True)]
    await presence.advance(0.1)
    assert grace.take() == [typing_update(1, 10, False)]
