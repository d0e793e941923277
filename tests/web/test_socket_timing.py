"""The WebSocket rules that take time (SPEC §3, §5, §8) on the testing kit: the spec's own
timings in no wall time, every frame exact. test_websocket.py proves the wire itself over
real sockets; the timing rules of the actors are in tests/core/test_actors.py."""

from __future__ import annotations

import pytest

from presence_actors.testing import ApiError, presence_update


async def test_a_subscriber_sees_a_partner_go_online_away_and_offline(presence):
    ada = await presence.client(1).subscribe()
    grace = presence.client(2, "phone")
    socket = await grace.subscribe()  # connecting is activity: online
    await grace.set_status("away")
    await presence.advance(5)  # the status rate window
    await grace.set_status("online")
    await presence.advance(20)
    await socket.close()
    await presence.advance(10)  # the disconnect grace of an online device
    assert ada.take() == [presence_update(2, "online", presence.timestamp(0)),
                          presence_update(2, "away", presence.timestamp(0)),
                          presence_update(2, "online", presence.timestamp(5)),
                          presence_update(2, "offline", presence.timestamp(25))]


async def test_two_devices_aggregate_over_websockets(presence):
    ada = await presence.client(1).subscribe()
    grace = presence.client(2, "laptop")
    laptop = await grace.subscribe()  # the device from X-Device-ID
    phone = await grace.subscribe(query="device_id=phone", headers={
        "Authorization": f"Bearer {grace.token}"})  # the device from the query
    assert presence.service.socket_count(2) == 2
    await phone.close()
    await presence.advance(60)  # far past the phone's grace: the laptop keeps Grace online
    await laptop.close()
    await presence.advance(10)
    assert ada.take() == [presence_update(2, "online", presence.timestamp(0)),
                          presence_update(2, "offline", presence.timestamp(60))]


@pytest.mark.presence(jwt_leeway=10)
async def test_a_socket_whose_token_expires_closes_with_4401_after_the_leeway(presence):
    # The kit's clock says 2024, long gone on this machine's: the token is valid (and
    # then expires) on the service's clock, which both the check and the deadline use.
    token = presence.token(1, ttl=600)
    socket = await presence.client(1, token=token).subscribe()
    await presence.advance(609.9)
    assert not socket.closed
    await presence.advance(0.1)
    assert socket.close_code == 4401
    with pytest.raises(ApiError) as expired:
        await presence.client(1, token=token).set_status("online")
    assert (expired.value.status, expired.value.detail) == (401, "Token has expired")


async def test_a_quiet_healthy_socket_stays_open_for_hours_and_gets_pushes(presence):
    socket = await presence.client(1).subscribe()
    await presence.advance(3 * 3600)  # nothing closes an idle socket; the device stays online
    await presence.client(2, "phone").set_status("away")
    assert socket.take() == [presence_update(2, "away", presence.timestamp(3 * 3600))]
    assert not socket.closed
