"""Supervisor, registry and lifecycle: crashes, overload, idle actors, shutdown."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from presence_actors import (
    ActorUnavailable,
    MemoryStore,
    PresenceRecord,
    PresenceStatus,
    Timing,
    WallClock,
    open_presence,
)
from presence_actors.supervisor import open_supervisor

from .conftest import T0, directory, next_message, running

ONLINE = PresenceStatus.ONLINE


class Poison:
    """A message no actor understands: its rules raise, as a bug would."""

    reply = None


def live_tasks() -> int:
    """Every task in this trio run (to prove actors leave nothing behind)."""
    count, stack = 0, [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


async def test_crashed_user_actor_restarts_and_its_watchers_still_get_updates(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            await service.set_status(1, "laptop", PresenceStatus.AWAY)
            assert (await next_message(sub.outbox))["data"]["status"] == "away"
            service.registry.tell("user", 1, Poison())
            await trio.testing.wait_all_tasks_blocked()
            assert service.statistics().restarts == 1
            # The restarted actor resumed from its last completed step (status announced,
            # last_seen kept), so the crash itself pushed nothing, and the next change
            # reaches the watcher.
            assert len(sub.outbox) == 0
            await service.set_status(1, "phone", ONLINE)
            update = await next_message(sub.outbox)
            assert update["data"] == {
                "user_id": 1,
                "status": "online",
                "last_seen": "2024-01-01T12:00:00Z",
            }


async def test_a_request_that_crashes_its_actor_gets_unavailable_not_a_hang(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            with pytest.raises(ActorUnavailable):
                await service.registry.ask("user", 1, lambda reply: _PoisonAsk(reply))
            assert (await service.set_status(1, "phone", ONLINE)).status is ONLINE


class _PoisonAsk:
    def __init__(self, reply):
        self.reply = reply


async def test_restarted_actor_resumes_from_its_last_state(autojump_clock):
    with trio.fail_after(300):
        async with running() as service, service.subscribe(2, "watcher") as watcher:
            async with service.subscribe(1, "phone"):
                assert (await next_message(watcher.outbox))["data"]["status"] == "online"
                service.registry.tell("user", 1, Poison())
                await trio.sleep(120)  # far past every TTL: the open socket keeps 1 online
                assert service.statistics().restarts == 1
                assert (await service.presence(2, 1)).status is ONLINE
                assert len(watcher.outbox) == 0
            assert (await next_message(watcher.outbox))["data"]["status"] == "offline"


async def test_a_fresh_actor_after_giving_up_rebuilds_devices_from_live_sessions(
    autojump_clock,
):
    with trio.fail_after(300):
        async with running(max_restarts=0) as service, service.subscribe(1, "phone"):
            service.registry.tell("user", 1, Poison())
            await trio.testing.wait_all_tasks_blocked()
            assert service.statistics().given_up == 1
            assert service.registry.live("user", 1) is None
            # The session's next frame (activity) starts a fresh actor, which finds the
            # open socket and brings the device back online; it then never expires.
            await service.touch(1, "phone")
            await trio.sleep(120)
            assert (await service.presence(1, 1)).status is ONLINE


async def test_an_actor_that_keeps_crashing_is_given_up_and_others_never_notice(autojump_clock):
    with trio.fail_after(60):
        async with running(max_restarts=2, restart_period=10) as service:
            await service.set_status(1, "phone", ONLINE)
            await service.set_status(2, "phone", ONLINE)
            for _ in range(3):
                service.registry.tell("user", 1, Poison())
                await trio.testing.wait_all_tasks_blocked()
            stats = service.statistics()
            assert (stats.restarts, stats.given_up) == (2, 1)
            assert service.registry.live("user", 1) is None
            assert service.registry.live("user", 2) is not None
            # The next request starts user 1 afresh.
            assert (await service.set_status(1, "phone", ONLINE)).status is ONLINE


async def test_full_mailbox_is_refused_at_once(autojump_clock):
    with trio.fail_after(60):
        async with running(mailbox_size=4) as service:
            await service.set_status(1, "phone", ONLINE)
            # No checkpoint in this loop: the actor cannot drain its mailbox meanwhile.
            # One message goes straight to the waiting actor, four fill the mailbox.
            for _ in range(5):
                tell_touch(service)
            with pytest.raises(ActorUnavailable, match="overloaded"):
                tell_touch(service)
            assert service.statistics().rejected_busy == 1


def tell_touch(service) -> None:
    from presence_actors.user_rules import Touch

    service.registry.tell("user", 1, Touch("phone"))


async def test_ten_thousand_actors_start_go_idle_and_stop_leaving_no_task(autojump_clock):
    with trio.fail_after(600):
        data = directory(users=range(1, 10_001))
        async with running(data) as service:
            await trio.testing.wait_all_tasks_blocked()
            baseline = live_tasks()
            for uid in range(1, 10_001):
                await service.set_status(uid, "phone", ONLINE)
            assert service.statistics().user_actors == 10_000
            assert live_tasks() == baseline + 10_000
            await trio.sleep(61)
            await trio.testing.wait_all_tasks_blocked()
            stats = service.statistics()
            assert (stats.user_actors, stats.actors_retired) == (0, 10_000)
            assert live_tasks() == baseline
            assert service.registry.supervisor.running == 0
            # Each handed its last snapshot (offline, last_seen kept) to storage.
            rows = service.store.rows
            assert len(rows) == 10_000
            assert rows[10_000].status is PresenceStatus.OFFLINE
            assert rows[10_000].last_seen is not None


async def test_a_message_to_a_retired_actor_starts_a_fresh_one(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            old = service.registry.live("user", 1)
            await service.set_status(1, "phone", PresenceStatus.OFFLINE)
            # The actor outlives the device only while the device's rate window is open.
            await trio.sleep(5)
            await trio.testing.wait_all_tasks_blocked()
            assert service.registry.live("user", 1) is None
            from presence_actors.mailbox import ActorGone
            from presence_actors.user_rules import Touch

            with pytest.raises(ActorGone):
                old.tell(Touch("phone"))
            record = await service.set_status(1, "phone", ONLINE)
            assert record.status is ONLINE
            assert record.last_seen == T0 + 5


async def test_shutdown_stops_every_actor_after_its_queue(autojump_clock):
    store = MemoryStore(directory())
    with trio.fail_after(60):
        async with open_presence(store, Timing(), WallClock(T0)) as service:
            for uid in range(1, 6):
                await service.set_status(uid, "phone", ONLINE)
            registry = service.registry
        assert registry.supervisor.running == 0
        assert {uid: row.status for uid, row in store.rows.items()} == dict.fromkeys(
            range(1, 6), ONLINE
        )


async def test_supervisor_restarts_one_child_and_leaves_its_sibling_alone(autojump_clock):
    runs = {"crashy": 0, "steady": 0}
    steady_done = trio.Event()

    async def crashy():
        runs["crashy"] += 1
        if runs["crashy"] < 3:
            raise RuntimeError("boom")

    async def steady():
        runs["steady"] += 1
        await steady_done.wait()

    with trio.fail_after(60):
        async with open_supervisor(max_restarts=5, period=10) as supervisor:
            supervisor.spawn("steady", steady)
            supervisor.spawn("crashy", crashy)
            await trio.testing.wait_all_tasks_blocked()
            assert runs == {"crashy": 3, "steady": 1}
            assert supervisor.statistics().restarts == 2
            steady_done.set()
            await supervisor.wait_idle()


async def test_a_device_that_expires_inside_its_rate_window_keeps_the_window(autojump_clock):
    # Regression: with a TTL shorter than the status interval, expiry used to drop the
    # window with the device, and the next post was accepted early.
    with trio.fail_after(60):
        async with running(online_ttl=2, status_min_interval=5) as service:
            await service.set_status(1, "phone", ONLINE)
            await trio.sleep(3)
            assert (await service.presence(1, 1)).status is PresenceStatus.OFFLINE
            from presence_actors import RateLimited

            with pytest.raises(RateLimited) as limited:
                await service.set_status(1, "phone", ONLINE)
            assert limited.value.retry_after == 2
            await trio.sleep(2)
            assert (await service.set_status(1, "phone", ONLINE)).status is ONLINE


async def test_a_given_up_conversation_actor_ends_its_indicators_with_pushes(autojump_clock):
    with trio.fail_after(60):
        async with running(max_restarts=0) as service, service.subscribe(2, "watcher") as sub:
            await service.set_typing(1, 10, True)
            assert (await next_message(sub.outbox))["data"]["is_typing"] is True
            service.registry.tell("conversation", 10, Poison())
            await trio.testing.wait_all_tasks_blocked()
            assert service.statistics().given_up == 1
            update = await next_message(sub.outbox)
            assert update["data"] == {"user_id": 1, "conversation_id": 10, "is_typing": False}
            assert not (await service.presence(2, 1)).is_typing
            assert service.context.typing.typing_in(1) == frozenset()


async def test_a_given_up_user_actor_leaves_the_board_and_reads_use_the_store(autojump_clock):
    with trio.fail_after(60):
        async with running(max_restarts=0) as service:
            await service.set_status(1, "phone", ONLINE)
            assert 1 in service.context.board
            service.registry.tell("user", 1, Poison())
            await trio.testing.wait_all_tasks_blocked()
            assert 1 not in service.context.board
            view = await service.presence(2, 1)
            assert (view.status, view.last_seen) == (PresenceStatus.OFFLINE, T0)


async def test_a_retired_user_actor_leaves_the_board(autojump_clock):
    with trio.fail_after(120):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            await trio.sleep(61)
            await trio.testing.wait_all_tasks_blocked()
            assert service.registry.live("user", 1) is None
            assert 1 not in service.context.board
            assert service.store.rows[1] == PresenceRecord(1, PresenceStatus.OFFLINE, T0)
