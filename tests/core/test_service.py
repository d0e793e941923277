"""PresenceService, the façade the web layer calls: what each call answers and raises."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from presence_actors import NotFound, PresenceStatus, RateLimited
from presence_actors.actor import CONVERSATION

from .conftest import T0, running

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def test_presences_lists_every_visible_user_by_ascending_id(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(2, "phone", AWAY)
            views = await service.presences(1)
            assert [(v.user_id, v.status) for v in views] == [(1, OFFLINE), (2, AWAY), (3, OFFLINE)]


async def test_presences_of_given_ids_leaves_out_the_invisible_and_unknown(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            views = await service.presences(1, [99, 4, 3, 2, 3])
            assert [view.user_id for view in views] == [2, 3]


async def test_presence_of_an_invisible_or_unknown_user_is_not_found(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            for target in (4, 99):
                with pytest.raises(NotFound):
                    await service.presence(1, target)


async def test_typing_in_a_conversation_one_is_not_in_is_not_found(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            for conversation in (10, 11):  # 10 exists without user 4; 11 does not exist
                with pytest.raises(NotFound):
                    await service.set_typing(4, conversation, True)
            assert service.registry.live(CONVERSATION, 10) is None


async def test_accepted_typing_is_activity_of_the_typing_device(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            await trio.sleep(30)
            await service.set_typing(1, 10, True, device_id="phone")
            await trio.testing.wait_all_tasks_blocked()
            assert (await service.presence(2, 1)).last_seen == T0 + 30


async def test_typing_from_a_user_with_no_live_device_makes_the_device_online(autojump_clock):
    # Issue 8 item 6: it showed "offline and typing" and did not move last_seen.
    with trio.fail_after(60):
        async with running() as service:
            await trio.sleep(30)
            await service.set_typing(1, 10, True, device_id="phone")
            await trio.testing.wait_all_tasks_blocked()
            view = await service.presence(2, 1)
            assert (view.status, view.last_seen, view.is_typing) == (ONLINE, T0 + 30, True)


async def test_rate_limited_answers_are_counted_for_status_and_typing(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            with pytest.raises(RateLimited):
                await service.set_status(1, "phone", AWAY)
            for _ in range(5):
                await service.set_typing(1, 10, True)
            with pytest.raises(RateLimited):
                await service.set_typing(1, 10, True)
            assert service.statistics().rate_limited == 2


async def test_running_until_shutdown_begins(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            assert service.running
        assert not service.running
