from presence_actors.testing import presence_update


async def test_an_away_device_lives_600_seconds_after_its_last_activity(presence):
    grace = await presence.client(2).subscribe()
    ada = presence.client(1, "laptop")

    await ada.set_status("away")          # e.g. the app went to the background
    await presence.advance(599)
    assert (await grace.client.presence(1))["status"] == "away"

    await presence.advance(1)             # ten minutes, in no wall time
    assert grace.take() == [
        presence_update(1, "away", presence.timestamp(0)),
        presence_update(1, "offline", presence.timestamp(0)),  # expiry keeps last_seen
    ]
