"""The kit itself: its clock, its time helpers, its directory, its settings."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio
import trio.testing

from presence_actors import Timing
from presence_actors.testing import (
    ApiError,
    kit_settings,
    open_presence_kit,
    presence_removed,
    presence_update,
)
from storage import DirectoryFileError

TWO_STRANGERS = {"users": [{"id": 1, "display_name": "Ada"}, {"id": 2, "display_name": "Bo"}]}


async def test_the_wall_clock_starts_at_the_chosen_instant(presence_factory):
    presence = await presence_factory(start="2030-06-01T08:30:00Z")
    assert (presence.timestamp(0), presence.timestamp(90)) == (
        "2030-06-01T08:30:00Z", "2030-06-01T08:31:30Z")
    answer = await presence.client(1).set_status("online")
    assert answer["last_seen"] == "2030-06-01T08:30:00Z"


async def test_advance_moves_exactly_and_fires_every_deadline_on_the_way(presence):
    grace = await presence.client(2).subscribe()
    await presence.client(1, "phone").set_status("online")
    await presence.advance(59.999)
    assert grace.take() == [presence_update(1, "online", presence.timestamp(0))]
    await presence.advance(0.001)
    assert grace.take() == [presence_update(1, "offline", presence.timestamp(0))]
    await presence.advance(3600)
    assert presence.elapsed == 3660


async def test_advance_to_next_deadline_steps_from_actor_deadline_to_actor_deadline(presence):
    assert presence.next_deadline() is None
    assert await presence.advance_to_next_deadline() is None
    assert presence.elapsed == 0
    ada = presence.client(1, "phone")
    await ada.set_status("online")
    await ada.typing(10)
    assert presence.next_deadline() == 1  # the typing bucket is full again
    assert await presence.advance_to_next_deadline() == 1
    assert await presence.advance_to_next_deadline() == 4  # the typing expiry
    assert await presence.advance_to_next_deadline() == 55  # the device's online TTL
    await ada.set_status("offline")
    assert await presence.advance_to_next_deadline() == 5  # its rate window closes
    assert presence.next_deadline() is None and presence.elapsed == 65


async def test_a_manual_mock_clock_is_advanced_too(mock_clock):
    async with open_presence_kit() as presence:
        grace = await presence.client(2).subscribe()
        await presence.client(1, "phone").set_status("online")
        await presence.advance(60)
        assert [f["data"]["status"] for f in grace.take()] == ["online", "offline"]
        assert mock_clock.autojump_threshold == float("inf")  # as the test set it


async def test_advance_refuses_the_real_clock_and_bad_durations():
    async with open_presence_kit() as presence:
        with pytest.raises(RuntimeError, match="MockClock"):
            await presence.advance(1)
    async with open_presence_kit() as presence:
        for bad in (-1, float("nan"), float("inf")):
            with pytest.raises(ValueError):
                await presence.advance(bad)


async def test_settle_runs_what_can_run_without_moving_the_clock(presence):
    grace = await presence.client(2).subscribe()
    before = trio.current_time()
    # The transport's own request does not settle (a virtual client's call does).
    headers = {"Authorization": f"Bearer {presence.token(1)}"}
    await presence.transport.request("POST", "/api/presence/status", headers=headers,
                                     json={"status": "away"})
    await presence.settle()
    assert grace.take() == [presence_update(1, "away", presence.timestamp(0))]
    assert trio.current_time() == before


async def test_set_directory_is_followed_by_the_running_service(presence):
    ada = presence.client(1)
    with pytest.raises(ApiError):
        await ada.presence(4)
    await presence.set_directory(
        replace(presence.directory, partnerships=frozenset({(1, 2), (1, 4)})))
    assert (await ada.presence(4))["user_id"] == 4
    assert presence.directory.partnerships == frozenset({(1, 2), (1, 4)})


async def test_a_malformed_directory_is_refused_and_changes_nothing(presence):
    before = presence.directory
    with pytest.raises(DirectoryFileError, match=r"partnerships\[0\]\[1\]: user 9"):
        await presence.set_directory({"users": [{"id": 1}], "partnerships": [[1, 9]]})
    assert presence.directory == before
    with pytest.raises(DirectoryFileError, match=r"users\[0\]\.id"):
        async with open_presence_kit({"users": [{"id": -1}]}):
            pass


@pytest.mark.presence(TWO_STRANGERS, timing=Timing(online_ttl=5))
async def test_the_marker_picks_the_directory_and_the_timings(presence):
    with pytest.raises(ApiError):
        await presence.client(1).presence(2)  # strangers here
    await presence.client(1, "phone").set_status("online")
    assert presence.next_deadline() == 5


async def test_the_factory_runs_kits_side_by_side(presence_factory):
    short = await presence_factory(timing=Timing(typing_ttl=1))
    default = await presence_factory()
    assert (await short.client(1).typing(10))["expires_at"] == short.timestamp(1)
    assert (await default.client(1).typing(10))["expires_at"] == default.timestamp(5)


def test_settings_carry_every_timing_the_app_has():
    timing = Timing(online_ttl=1, away_ttl=2, disconnect_grace=3, status_min_interval=4,
                    typing_ttl=6, typing_burst=7, typing_rate=8, max_sockets_per_user=9,
                    directory_poll=10, directory_refresh=11, directory_min_refresh=12)
    assert kit_settings(timing).timing() == timing
    with pytest.raises(ValueError, match="max_restarts"):
        kit_settings(Timing(max_restarts=0))


async def test_removing_a_partnership_removes_the_user_from_open_sockets(presence):
    grace = await presence.client(2).subscribe()
    await presence.client(1, "phone").set_status("online")
    grace.take()
    await presence.set_directory(replace(  # Ada leaves the club, the partnership, chat 10
        presence.directory, partnerships=frozenset(),
        circles={7: ("Book club", frozenset({2, 3}))}, conversations={11: frozenset({2, 3})}))
    assert grace.take() == [presence_removed(1)]


async def test_a_store_change_is_found_by_the_services_own_poll(presence):
    # What another writer (the CLI's import) does: change the store, not the kit.
    presence.store.directory = replace(presence.directory,
                                       partnerships=frozenset({(1, 2), (1, 4)}))
    await presence.advance(0.5)  # Timing.directory_poll
    assert (await presence.client(1).presence(4))["user_id"] == 4
