"""UserActor and ConversationActor driven through the service, on the autojump clock."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from presence_actors import PresenceStatus, RateLimited

from .conftest import T0, collect, elapsed, next_message, running

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def test_online_device_without_socket_expires_after_60_seconds(autojump_clock):
    with trio.fail_after(120):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            start = trio.current_time()
            await service.set_status(1, "phone", ONLINE)
            assert (await next_message(sub.outbox))["data"]["status"] == "online"
            update = await next_message(sub.outbox)
            assert elapsed(start) == pytest.approx(60)
            # Expiry does not move last_seen: it stays at the status update.
            assert update["data"] == {
                "user_id": 1,
                "status": "offline",
                "last_seen": "2024-01-01T12:00:00Z",
            }


async def test_away_device_without_socket_expires_after_600_seconds(autojump_clock):
    with trio.fail_after(1200):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            start = trio.current_time()
            await service.set_status(1, "phone", AWAY)
            assert (await next_message(sub.outbox))["data"]["status"] == "away"
            assert (await next_message(sub.outbox))["data"]["status"] == "offline"
            assert elapsed(start) == pytest.approx(600)


async def test_heartbeats_keep_a_device_alive_and_push_nothing(autojump_clock):
    with trio.fail_after(300):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            await service.set_status(1, "phone", ONLINE)
            await next_message(sub.outbox)
            for _ in range(4):
                await trio.sleep(30)
                record = await service.set_status(1, "phone", ONLINE)
                assert record.status is ONLINE
            await trio.testing.wait_all_tasks_blocked()
            assert len(sub.outbox) == 0
            view = await service.presence(2, 1)
            assert view.last_seen == T0 + 120


async def test_typing_expires_after_5_seconds_and_the_watcher_sees_false(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            start = trio.current_time()
            result = await service.set_typing(1, 10, True)
            assert result.expires_at == T0 + 5
            shown = await next_message(sub.outbox)
            assert shown == {
                "type": "typing_update",
                "data": {"user_id": 1, "conversation_id": 10, "is_typing": True},
            }
            assert (await service.presence(2, 1)).is_typing
            hidden = await next_message(sub.outbox)
            assert hidden["data"]["is_typing"] is False
            assert elapsed(start) == pytest.approx(5)
            assert not (await service.presence(2, 1)).is_typing


async def test_typing_refresh_extends_without_a_push(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            start = trio.current_time()
            await service.set_typing(1, 10, True)
            await next_message(sub.outbox)
            await trio.sleep(4.9)
            await service.set_typing(1, 10, True)
            await trio.testing.wait_all_tasks_blocked()
            assert len(sub.outbox) == 0
            assert (await next_message(sub.outbox))["data"]["is_typing"] is False
            assert elapsed(start) == pytest.approx(9.9)


async def test_own_typing_is_not_pushed_to_the_typer(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(1, "typer") as sub:
            await service.set_typing(1, 10, True)
            await trio.testing.wait_all_tasks_blocked()
            assert len(sub.outbox) == 0


async def test_going_offline_clears_typing_everywhere(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            await service.set_status(1, "phone", ONLINE)
            await next_message(sub.outbox)
            await service.set_typing(1, 10, True)
            await next_message(sub.outbox)
            start = trio.current_time()
            await service.set_status(1, "phone", OFFLINE)
            frames = await collect(sub.outbox, 2)
            assert {f["type"] for f in frames} == {"presence_update", "typing_update"}
            typing = next(f for f in frames if f["type"] == "typing_update")
            assert typing["data"]["is_typing"] is False
            assert elapsed(start) < 1


async def test_reconnect_inside_the_grace_does_not_flap(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            async with service.subscribe(1, "phone"):
                assert (await next_message(sub.outbox))["data"]["status"] == "online"
            await trio.sleep(9.9)
            async with service.subscribe(1, "phone"):
                await trio.sleep(30)
                assert len(sub.outbox) == 0
            start = trio.current_time()
            assert (await next_message(sub.outbox))["data"]["status"] == "offline"
            assert elapsed(start) == pytest.approx(10)


async def test_two_devices_aggregate_to_the_highest(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(2, "watcher") as sub:
            await service.set_status(1, "laptop", AWAY)
            assert (await next_message(sub.outbox))["data"]["status"] == "away"
            await service.set_status(1, "phone", ONLINE)
            assert (await next_message(sub.outbox))["data"]["status"] == "online"
            record = await service.set_status(1, "phone", OFFLINE)
            assert record.status is AWAY
            assert (await next_message(sub.outbox))["data"]["status"] == "away"


async def test_status_rate_limit_answers_retry_after_and_changes_nothing(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            await trio.sleep(4.99)
            with pytest.raises(RateLimited) as limited:
                await service.set_status(1, "phone", AWAY)
            assert limited.value.retry_after == 1
            assert (await service.presence(1, 1)).status is ONLINE
            await trio.sleep(0.01)
            assert (await service.set_status(1, "phone", AWAY)).status is AWAY
            assert service.statistics().rate_limited == 1
