"""Subscriptions: the outbox in the fan-out index for the block, its device connected,
and `initial_state` in the GET shape (SPEC §8)."""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from presence_actors import PresenceStatus, TooManySockets
from presence_actors.actor import USER

from .conftest import next_message, running

ONLINE, AWAY = PresenceStatus.ONLINE, PresenceStatus.AWAY


async def test_initial_state_lists_visible_users_and_current_typers(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(3, "phone", AWAY)
            await service.set_typing(3, 10, True)
            async with service.subscribe(1, "web") as sub:
                initial = orjson.loads(sub.initial_frame)
            assert initial["type"] == "initial_state"
            presences = initial["data"]["presences"]
            assert [p["user_id"] for p in presences] == [1, 2, 3]
            assert presences[2] == {
                "user_id": 3,
                "status": "away",
                "last_seen": "2024-01-01T12:00:00Z",
                "is_typing": True,
            }
            assert presences[0]["status"] == "online"  # the subscriber's own socket
            assert initial["data"]["typing"] == [
                {"user_id": 3, "conversation_id": 10, "is_typing": True}
            ]


async def test_initial_state_shows_each_presence_exactly_as_a_get_would(autojump_clock):
    # Regression: initial_state built its own shape, and showed the subscriber's own
    # is_typing false while GET /api/presence/users said true (SPEC §8: "in the GET shape").
    with trio.fail_after(60):
        async with running() as service:
            await service.set_typing(1, 10, True)  # typing on another device
            await service.set_status(2, "phone", AWAY)
            async with service.subscribe(1, "web") as sub:
                initial = orjson.loads(sub.initial_frame)
                gets = [view.as_json() for view in await service.presences(1)]
            assert initial["data"]["presences"] == gets
            assert (gets[0]["user_id"], gets[0]["is_typing"]) == (1, True)
            assert initial["data"]["typing"] == []  # the subscriber's own typing is not listed


async def test_subscribing_connects_the_device_and_starts_no_watched_users_actor(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(1, "web"):
            assert (await service.presence(2, 1)).status is ONLINE
            assert service.registry.live(USER, 2) is None
            assert service.registry.live(USER, 3) is None


async def test_a_change_after_subscribing_reaches_the_outbox(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(1, "web") as sub:
            await service.set_status(2, "phone", AWAY)
            update = await next_message(sub.outbox)
            assert (update["type"], update["data"]["user_id"]) == ("presence_update", 2)


async def test_leaving_the_block_unsubscribes_and_disconnects(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            async with service.subscribe(1, "web") as sub:
                assert service.socket_count(1) == 1
            assert service.socket_count(1) == 0
            await service.set_status(2, "phone", AWAY)
            assert len(sub.outbox) == 0
            await trio.sleep(10)  # the disconnect grace of an online device
            await trio.testing.wait_all_tasks_blocked()
            assert (await service.presence(2, 1)).status is PresenceStatus.OFFLINE


async def test_one_socket_over_the_limit_is_refused(autojump_clock):
    with trio.fail_after(60):
        async with (
            running(max_sockets_per_user=2) as service,
            service.subscribe(1, "a"),
            service.subscribe(1, "b"),
        ):
            with pytest.raises(TooManySockets):
                async with service.subscribe(1, "c"):
                    pass
            assert service.socket_count(1) == 2
