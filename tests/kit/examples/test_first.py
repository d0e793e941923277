from presence_actors.testing import presence_update


async def test_ada_goes_offline_60_seconds_after_her_last_heartbeat(presence):
    ada = presence.client(1, "phone")            # user 1, device "phone"
    grace = await presence.client(2).subscribe()  # Grace watches over a WebSocket

    await ada.set_status("online")
    await presence.advance(59)
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0))]

    await presence.advance(1)                     # the online TTL ends: no wall time passes
    assert grace.take() == [presence_update(1, "offline", presence.timestamp(0))]
