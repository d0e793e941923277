"""The user and conversation actors' timing rules (SPEC §5, §6), as clients see them.

On the testing kit (docs/testing.md): the real app and actors on MockClock, the spec's own
timings (60 s, 600 s, 10 s, 5 s) in no wall time, every frame and timestamp exact.
"""

from __future__ import annotations

import pytest

from presence_actors.testing import ApiError, presence_update, typing_update


async def test_online_device_without_socket_expires_after_60_seconds(presence):
    watcher = await presence.client(2, "watcher").subscribe()
    await presence.client(1, "phone").set_status("online")
    await presence.advance(59.9)
    assert watcher.take() == [presence_update(1, "online", presence.timestamp(0))]
    await presence.advance(0.1)
    # Expiry does not move last_seen: it stays at the status update.
    assert watcher.take() == [presence_update(1, "offline", presence.timestamp(0))]


async def test_away_device_without_socket_expires_after_600_seconds(presence):
    watcher = await presence.client(2, "watcher").subscribe()
    await presence.client(1, "phone").set_status("away")
    await presence.advance(599.9)
    assert watcher.take() == [presence_update(1, "away", presence.timestamp(0))]
    await presence.advance(0.1)
    assert watcher.take() == [presence_update(1, "offline", presence.timestamp(0))]


async def test_heartbeats_keep_a_device_alive_and_push_nothing(presence):
    watcher = await presence.client(2, "watcher").subscribe()
    ada = presence.client(1, "phone")
    await ada.set_status("online")
    for _ in range(4):
        await presence.advance(30)
        assert (await ada.set_status("online"))["status"] == "online"
    assert watcher.take() == [presence_update(1, "online", presence.timestamp(0))]
    assert (await watcher.client.presence(1))["last_seen"] == presence.timestamp(120)


async def test_typing_expires_after_5_seconds_and_the_watcher_sees_false(presence):
    ada = presence.client(1)
    await ada.set_status("online")  # else her typing brings her online too (SPEC §5)
    watcher = await presence.client(2, "watcher").subscribe()
    answer = await ada.typing(10)
    assert answer["expires_at"] == presence.timestamp(5)
    assert watcher.take() == [typing_update(1, 10, True)]
    assert (await watcher.client.presence(1))["is_typing"] is True
    await presence.advance(4.9)
    assert watcher.take() == []
    await presence.advance(0.1)
    assert watcher.take() == [typing_update(1, 10, False)]
    assert (await watcher.client.presence(1))["is_typing"] is False


async def test_typing_refresh_extends_without_a_push(presence):
    ada = presence.client(1)
    await ada.set_status("online")  # else her typing brings her online too (SPEC §5)
    watcher = await presence.client(2, "watcher").subscribe()
    await ada.typing(10)
    await presence.advance(4.9)
    await ada.typing(10)
    await presence.advance(4.9)
    assert watcher.take() == [typing_update(1, 10, True)]
    await presence.advance(0.1)  # 5 s after the refresh
    assert watcher.take() == [typing_update(1, 10, False)]


async def test_own_typing_is_not_pushed_to_the_typer(presence):
    ada = presence.client(1)
    socket = await ada.subscribe()
    await ada.typing(10)
    assert socket.take() == []


async def test_going_offline_clears_typing_everywhere(presence):
    watcher = await presence.client(2, "watcher").subscribe()
    ada = presence.client(1, "phone")
    await ada.set_status("online")
    await ada.typing(10)
    watcher.take()
    await ada.set_status("offline")  # at once, not after the 5 s typing expiry
    frames = watcher.take()
    assert sorted(frames, key=lambda frame: frame["type"]) == [
        presence_update(1, "offline", presence.timestamp(0)), typing_update(1, 10, False)]


async def test_reconnect_inside_the_grace_does_not_flap(presence):
    watcher = await presence.client(2, "watcher").subscribe()
    phone = presence.client(1, "phone")
    await (await phone.subscribe()).close()
    await presence.advance(9.9)
    socket = await phone.subscribe()
    await presence.advance(30)
    assert watcher.take() == [presence_update(1, "online", presence.timestamp(0))]
    await socket.close()
    await presence.advance(9.9)
    assert watcher.take() == []
    await presence.advance(0.1)  # the 10 s grace after the last socket closed
    assert watcher.take() == [presence_update(1, "offline", presence.timestamp(39.9))]


async def test_two_devices_aggregate_to_the_highest(presence):
    watcher = await presence.client(2, "watcher").subscribe()
    laptop, phone = presence.client(1, "laptop"), presence.client(1, "phone")
    await laptop.set_status("away")
    await phone.set_status("online")
    assert (await phone.set_status("offline"))["status"] == "away"
    assert watcher.take() == [presence_update(1, status, presence.timestamp(0))
                              for status in ("away", "online", "away")]


async def test_status_rate_limit_answers_retry_after_and_changes_nothing(presence):
    ada = presence.client(1, "phone")
    await ada.set_status("online")
    await presence.advance(4.99)
    with pytest.raises(ApiError) as limited:
        await ada.set_status("away")
    assert (limited.value.status, limited.value.retry_after) == (429, 1)
    assert (await ada.presence(1))["status"] == "online"
    await presence.advance(0.01)
    assert (await ada.set_status("away"))["status"] == "away"
    assert presence.service.statistics().rate_limited == 1
