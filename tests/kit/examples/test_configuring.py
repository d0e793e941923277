import pytest

from presence_actors import Timing
from presence_actors.testing import ApiError, presence_removed

BOOK_CLUB = {
    "users": [{"id": 1, "display_name": "Ada"}, {"id": 2, "display_name": "Grace"},
              {"id": 3, "display_name": "Alan"}],
    "circles": [{"id": 7, "name": "Book club", "members": [1, 2, 3]}],
}


@pytest.mark.presence(BOOK_CLUB, timing=Timing(online_ttl=20), start="2030-01-01T09:00:00Z")
async def test_a_marker_picks_the_directory_the_timings_and_the_start(presence):
    await presence.client(3, "phone").set_status("online")
    assert await presence.advance_to_next_deadline() == 20   # the shortened online TTL
    alan = await presence.client(1).presence(3)
    assert alan == {"user_id": 3, "status": "offline", "last_seen": "2030-01-01T09:00:00Z",
                    "is_typing": False}


async def test_a_factory_starts_kits_with_their_own_arguments(presence_factory):
    strict = await presence_factory(timing=Timing(status_min_interval=60))
    ada = strict.client(1, "phone")
    await ada.set_status("online")
    answer = await ada.request("POST", "/api/presence/status", json={"status": "away"})
    assert (answer.status, answer.headers["retry-after"]) == (429, "60")


@pytest.mark.presence(BOOK_CLUB)
async def test_the_service_follows_a_directory_change(presence):
    ada = await presence.client(1).subscribe()
    await presence.set_directory({**BOOK_CLUB, "circles": []})  # the club is dissolved
    assert ada.take() == [presence_removed(2), presence_removed(3)]
    with pytest.raises(ApiError) as gone:
        await ada.client.presence(3)
    assert gone.value.status == 404
