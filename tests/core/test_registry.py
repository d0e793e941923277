"""Registry: finding, starting and retiring actors, and what `tell`/`ask` raise."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from presence_actors import ActorUnavailable, PresenceStatus, RateLimited
from presence_actors.actor import USER
from presence_actors.mailbox import ActorGone
from presence_actors.user_rules import SetStatus, Touch

from .conftest import T0, running

ONLINE = PresenceStatus.ONLINE


async def test_mailbox_starts_an_actor_once_and_live_never_starts_one(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            registry = service.registry
            assert registry.live(USER, 1) is None
            first = registry.mailbox(USER, 1)
            assert registry.mailbox(USER, 1) is first
            assert registry.live(USER, 1) is first
            assert registry.live(USER, 2) is None
            assert registry.statistics().started == 1


async def test_ask_returns_what_the_actor_answered(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            record = await service.registry.ask(USER, 1, lambda r: SetStatus("phone", ONLINE, r))
            assert (record.user_id, record.status, record.last_seen) == (1, ONLINE, T0)


async def test_ask_raises_the_error_the_actor_answered_with(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            registry = service.registry
            await registry.ask(USER, 1, lambda r: SetStatus("phone", ONLINE, r))
            with pytest.raises(RateLimited):
                await registry.ask(USER, 1, lambda r: SetStatus("phone", ONLINE, r))


async def test_an_idle_actor_retires_and_its_old_mailbox_says_gone(autojump_clock):
    with trio.fail_after(120):
        async with running() as service:
            registry = service.registry
            await service.set_status(1, "phone", ONLINE)
            old = registry.live(USER, 1)
            await trio.sleep(65)  # past the 60 s TTL: the device expires, the actor goes idle
            await trio.testing.wait_all_tasks_blocked()
            assert registry.live(USER, 1) is None
            assert registry.statistics().retired == 1
            with pytest.raises(ActorGone):
                old.tell(Touch("phone"))


async def test_tell_during_shutdown_says_so_and_is_not_counted_as_busy(autojump_clock):
    # Regression: a refusal while shutting down was reported as "overloaded (mailbox full)"
    # and counted in rejected_busy.
    with trio.fail_after(60):
        async with running() as service:
            registry = service.registry
        assert registry.closing
        with pytest.raises(ActorUnavailable, match="shutting down"):
            registry.tell(USER, 1, Touch("phone"))
        assert service.statistics().rejected_busy == 0
        assert registry.live(USER, 1) is None


async def test_next_deadline_is_the_earliest_any_live_actor_waits_for(autojump_clock):
    with trio.fail_after(120):
        async with running() as service:
            registry = service.registry
            assert registry.next_deadline() is None
            await service.set_status(1, "phone", ONLINE)  # expires at T0 + 60
            await trio.sleep(10)
            await service.set_status(2, "phone", PresenceStatus.AWAY)  # at T0 + 10 + 600
            await service.set_typing(3, 10, True)  # expires at T0 + 15; bucket full at + 11
            await trio.testing.wait_all_tasks_blocked()
            assert registry.next_deadline() == T0 + 11
            await trio.sleep(1)
            await trio.testing.wait_all_tasks_blocked()
            assert registry.next_deadline() == T0 + 15
            await trio.sleep(49)  # T0 + 60
            await trio.testing.wait_all_tasks_blocked()
            assert registry.next_deadline() == T0 + 610  # user 1 expired and retired
