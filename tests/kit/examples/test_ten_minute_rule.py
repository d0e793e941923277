"""Your own timing rule on top of the service, tested against its real `last_seen`."""

from datetime import UTC, datetime, timedelta


def recently_active(presence: dict, now: datetime) -> bool:
    """The app's badge: online or away now, or seen in the last ten minutes."""
    if presence["status"] != "offline":
        return True
    if presence["last_seen"] is None:
        return False
    seen = datetime.fromisoformat(presence["last_seen"].replace("Z", "+00:00"))
    return now - seen <= timedelta(minutes=10)


async def test_the_badge_stays_ten_minutes_after_ada_signs_off(presence):
    ada, grace = presence.client(1, "phone"), presence.client(2)
    await ada.set_status("online")
    await presence.advance(30)
    await ada.set_status("offline")       # last_seen: 30 s after the start

    def now() -> datetime:
        return datetime.fromtimestamp(presence.now(), UTC)

    await presence.advance(600)
    assert recently_active(await grace.presence(1), now())
    await presence.advance(1)
    assert not recently_active(await grace.presence(1), now())
