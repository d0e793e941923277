"""Reads: board, else store (as offline), else never seen; and the one GET shape."""

from __future__ import annotations

import trio

from presence_actors import PresenceRecord, PresenceStatus
from presence_actors.reads import records_for, typers_for, views_for

from .conftest import T0, running

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def test_a_live_user_is_read_from_the_board(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", AWAY)
            service.store.rows.clear()  # the board alone must answer
            records = await records_for(service.context, [1])
            assert records == {1: PresenceRecord(1, AWAY, T0)}


async def test_a_stored_user_with_no_live_actor_reads_as_offline_keeping_last_seen(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            # A stale online row (a crash before the start-up mark-offline, say).
            service.store.rows[2] = PresenceRecord(2, ONLINE, T0 - 3600)
            records = await records_for(service.context, [2])
            assert records == {2: PresenceRecord(2, OFFLINE, T0 - 3600)}


async def test_a_user_never_seen_reads_as_offline_with_no_last_seen(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            assert await records_for(service.context, [3]) == {3: PresenceRecord(3, OFFLINE, None)}


async def test_the_board_wins_over_the_store(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            service.store.rows[1] = PresenceRecord(1, OFFLINE, T0 - 3600)
            assert (await records_for(service.context, [1]))[1].status is ONLINE


async def test_is_typing_counts_only_conversations_the_viewer_is_in(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_typing(1, 10, True)  # 10 = {1, 2, 3}
            [as_seen_by_2] = await views_for(service.context, 2, [1])
            [as_seen_by_4] = await views_for(service.context, 4, [1])  # not in 10
            assert (as_seen_by_2.is_typing, as_seen_by_4.is_typing) == (True, False)


async def test_views_keep_the_order_asked(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(2, "phone", ONLINE)
            views = await views_for(service.context, 1, [3, 1, 2])
            shown = [(view.user_id, view.status) for view in views]
            assert shown == [(3, OFFLINE), (1, OFFLINE), (2, ONLINE)]


async def test_typers_leave_out_the_subscribers_own_typing(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_typing(1, 10, True)
            await service.set_typing(2, 10, True)
            assert [t.user_id for t in typers_for(service.context, 1)] == [2]
            assert [t.user_id for t in typers_for(service.context, 3)] == [1, 2]
