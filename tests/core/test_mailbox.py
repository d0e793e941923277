"""Mailbox and ReplySlot: the semantics actors rely on, on the autojump clock."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from presence_actors.errors import ActorUnavailable
from presence_actors.mailbox import EXPIRED, ActorGone, Alarms, Mailbox, Refusal, ReplySlot


def test_a_full_mailbox_refuses_without_waiting():
    mailbox = Mailbox(2)
    mailbox.send_nowait("a")
    mailbox.send_nowait("b")
    with pytest.raises(trio.WouldBlock):
        mailbox.send_nowait("c")
    assert [mailbox.receive_nowait(), mailbox.receive_nowait()] == ["a", "b"]


def test_a_closed_mailbox_breaks_senders():
    mailbox = Mailbox(4)
    mailbox.close()
    with pytest.raises(ActorGone):
        mailbox.tell("late")


def test_tell_to_a_full_mailbox_is_actor_unavailable():
    mailbox = Mailbox(1)
    mailbox.tell("first")
    with pytest.raises(ActorUnavailable, match="overloaded"):
        mailbox.tell("second")


async def test_a_waiting_reader_gets_the_message_directly(autojump_clock):
    mailbox = Mailbox(1)
    got = []

    async def reader():
        got.append(await mailbox.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        mailbox.send_nowait("x")
        mailbox.send_nowait("y")  # the reader took "x" off the queue: room for one more
    assert got == ["x"]
    assert len(mailbox) == 1


async def test_receive_is_cancellable_and_loses_nothing(autojump_clock):
    mailbox = Mailbox(4)
    with trio.move_on_after(1):
        await mailbox.receive()
    mailbox.send_nowait("after")  # the cancelled reader must not have kept a claim
    assert len(mailbox) == 1
    assert await mailbox.receive() == "after"


async def test_a_blocked_send_proceeds_when_the_reader_makes_room(autojump_clock):
    mailbox = Mailbox(1)
    mailbox.send_nowait("first")
    sent = trio.Event()

    async def sender():
        await mailbox.send("second")
        sent.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()
        assert mailbox.receive_nowait() == "first"
        await sent.wait()
    assert mailbox.receive_nowait() == "second"


async def test_a_blocked_send_fails_when_the_mailbox_closes(autojump_clock):
    mailbox = Mailbox(1)
    mailbox.send_nowait("first")
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def sender():
                with pytest.raises(trio.BrokenResourceError):
                    await mailbox.send("second")

            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            mailbox.close()


async def test_reply_times_out_as_unavailable(autojump_clock):
    reply = ReplySlot()
    start = trio.current_time()
    with pytest.raises(ActorUnavailable, match="in time"):
        await reply.wait(5)
    assert trio.current_time() - start == pytest.approx(5)


async def test_reply_carries_a_failure_and_is_set_once(autojump_clock):
    reply = ReplySlot()
    reply.fail(KeyError("boom"))
    reply.set("ignored")
    with pytest.raises(KeyError):
        await reply.wait(1)


def test_an_emptied_mailbox_holds_no_queue():
    mailbox = Mailbox(4)
    mailbox.send_nowait("a")
    assert mailbox.receive_nowait() == "a"
    assert mailbox._queue == ()  # an idle actor's mailbox keeps no list alive
    mailbox.send_nowait("b")
    assert mailbox.receive_nowait() == "b"


async def test_receive_until_expires_at_its_deadline_and_not_before(autojump_clock):
    alarms = Alarms()
    mailbox = Mailbox(4, alarms)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(alarms.run)
        start = trio.current_time()
        assert await mailbox.receive_until(start + 5) is EXPIRED
        assert trio.current_time() == start + 5
        mailbox.send_nowait("queued")
        assert await mailbox.receive_until(start + 10) == "queued"  # a message comes first
        assert trio.current_time() == start + 5
        nursery.cancel_scope.cancel()


async def test_an_earlier_deadline_moves_the_alarm_forward(autojump_clock):
    alarms = Alarms()
    late, early = Mailbox(4, alarms), Mailbox(4, alarms)
    woke = []

    async def wait(mailbox, deadline, name):
        assert await mailbox.receive_until(deadline) is EXPIRED
        woke.append((name, trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(alarms.run)
        start = trio.current_time()
        nursery.start_soon(wait, late, start + 60, "late")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait, early, start + 1, "early")
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    assert woke == [("early", start + 1), ("late", start + 60)]


async def test_a_wait_without_deadline_is_not_woken_by_an_old_alarm(autojump_clock):
    alarms = Alarms()
    mailbox = Mailbox(4, alarms)
    got = []

    async def reader():
        mailbox.send_nowait("first")
        got.append(await mailbox.receive_until(trio.current_time() + 1))  # leaves its alarm set
        got.append(await mailbox.receive_until(math.inf))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(alarms.run)
        nursery.start_soon(reader)
        await trio.sleep(10)  # past the old alarm: the reader must still be waiting
        assert got == ["first"]
        mailbox.send_nowait("second")
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert got == ["first", "second"]
    assert len(alarms) == 0


def test_stale_alarms_are_pruned():
    alarms = Alarms()
    mailbox = Mailbox(4, alarms)
    for k in range(5000):
        alarms.set(mailbox, float(k))  # each replaces the last: only one is live
    assert len(alarms) <= 1002


# --- Refusal: the slot of a request nobody waits for (WebSocket status frames) --------------


async def test_a_refusal_reaches_its_callback_once_and_an_answer_never(autojump_clock):
    errors: list[BaseException] = []
    accepted, refused = Refusal(errors.append), Refusal(errors.append)
    accepted.set("a record")
    refused.fail(ActorUnavailable("failing"))
    refused.fail(ActorUnavailable("again"))  # decided already
    assert accepted.decided and refused.decided
    assert [str(e) for e in errors] == ["failing"]
    assert await accepted.wait(1.0) and await refused.wait(1.0)  # no waiting once decided


async def test_a_sender_waits_for_an_undecided_refusal_at_most_its_timeout(autojump_clock):
    slot = Refusal(lambda error: None)
    started = trio.current_time()
    assert not await slot.wait(2.0)  # the actor never decided: the bound holds
    assert trio.current_time() - started == pytest.approx(2.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(slot.wait, 60.0)
        await trio.testing.wait_all_tasks_blocked()
        slot.set(None)  # decided: the waiter goes on at once
    assert trio.current_time() - started == pytest.approx(2.0)
