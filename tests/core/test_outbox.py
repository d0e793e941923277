"""Per-connection outboxes coalesce by key (SPEC §8 slow consumers); Subscribers fan out."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from presence_actors.fanout import Subscribers, SubscriberStatistics
from presence_actors.outbox import Outbox


def outbox(user_id: int = 1, device_id: str = "phone") -> Outbox:
    return Outbox(user_id, device_id)


# --- coalescing --------------------------------------------------------------------------


async def test_latest_frame_for_a_key_wins():
    box = outbox()
    box.offer(2, b"user 2 online")
    box.offer(2, b"user 2 away")
    assert await box.next_batch() == [b"user 2 away"]


async def test_coalesced_key_keeps_its_first_offer_position():
    box = outbox()
    box.offer(2, b"user 2 online")
    box.offer(3, b"user 3 online")
    box.offer(2, b"user 2 away")
    assert await box.next_batch() == [b"user 2 away", b"user 3 online"]


def test_outbox_is_bounded_by_distinct_keys_not_by_offers():
    box = outbox()
    for n in range(10_000):
        box.offer(n % 3, b"frame %d" % n)
    assert len(box) == 3


async def test_distinct_keys_are_all_kept_in_offer_order():
    box = outbox()
    for key in (5, (1, 10), 4):
        box.offer(key, repr(key).encode())
    assert await box.next_batch() == [b"5", b"(1, 10)", b"4"]


async def test_replies_of_one_kind_coalesce_to_the_latest():
    box = outbox()
    box.offer_reply("pong", b'{"type":"pong"}')
    box.offer_reply("pong", b'{"type":"pong","n":2}')
    assert await box.next_batch() == [b'{"type":"pong","n":2}']


async def test_replies_of_different_kinds_are_kept_apart():
    box = outbox()
    box.offer_reply("pong", b"pong")
    box.offer_reply("error", b"error")
    assert await box.next_batch() == [b"pong", b"error"]


async def test_replies_do_not_coalesce_with_presence_frames():
    box = outbox()
    box.offer(1, b"presence of user 1")
    box.offer_reply("pong", b"pong")
    assert len(box) == 2


# --- waiting for frames ------------------------------------------------------------------


async def test_next_batch_takes_everything_pending_and_empties_the_outbox():
    box = outbox()
    box.offer(1, b"a")
    box.offer(2, b"b")
    assert await box.next_batch() == [b"a", b"b"]
    assert len(box) == 0


async def test_next_batch_waits_for_an_offer():
    box = outbox()
    batches: list[list[bytes]] = []

    async def writer():
        batches.append(await box.next_batch())

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.testing.wait_all_tasks_blocked()
            assert batches == []
            box.offer(1, b"a")
    assert batches == [[b"a"]]


async def test_offers_made_while_the_writer_is_busy_arrive_as_one_coalesced_batch(
    autojump_clock,
):
    box = outbox()
    batches: list[list[bytes]] = []

    async def slow_writer():
        for _ in range(2):
            batches.append(await box.next_batch())
            await trio.sleep(30)  # a slow socket write

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow_writer)
            await trio.testing.wait_all_tasks_blocked()
            box.offer(1, b"first")
            await trio.sleep(1)
            for n in range(100):
                box.offer(n % 2, b"update %d" % n)
    assert batches == [[b"first"], [b"update 98", b"update 99"]]


async def test_close_wakes_a_waiting_writer_with_end_of_channel():
    box = outbox()
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:

            async def writer():
                with pytest.raises(trio.EndOfChannel):
                    await box.next_batch()

            nursery.start_soon(writer)
            await trio.testing.wait_all_tasks_blocked()
            box.close()


async def test_close_drops_pending_frames():
    box = outbox()
    box.offer(1, b"a")
    box.close()
    assert len(box) == 0
    with pytest.raises(trio.EndOfChannel):
        await box.next_batch()


def test_offer_after_close_is_dropped():
    box = outbox()
    box.close()
    box.offer(1, b"a")
    box.offer_reply("pong", b"pong")
    assert len(box) == 0


# --- Subscribers -------------------------------------------------------------------------


def subscribers(*boxes: Outbox) -> Subscribers:
    subs = Subscribers()
    for box in boxes:
        subs.add(box)
    return subs


def test_deliver_offers_the_frame_to_every_outbox_of_the_given_users():
    phone, laptop, other = outbox(1, "phone"), outbox(1, "laptop"), outbox(2)
    subs = subscribers(phone, laptop, other)
    delivered = subs.fan_out(frozenset({1, 2}), 9, b"user 9 online")
    assert delivered == 3
    assert [len(box) for box in (phone, laptop, other)] == [1, 1, 1]


def test_deliver_skips_connected_users_not_in_the_set():
    inside, outside = outbox(1), outbox(2)
    delivered = subscribers(inside, outside).fan_out(frozenset({1}), 9, b"frame")
    assert delivered == 1
    assert len(outside) == 0


def test_deliver_to_a_set_larger_than_the_connected_users():
    box = outbox(3)
    delivered = subscribers(box).fan_out(frozenset(range(1, 1000)), 9, b"frame")
    assert delivered == 1
    assert len(box) == 1


def test_deliver_to_users_with_no_outbox_reaches_nobody():
    assert subscribers(outbox(1)).fan_out(frozenset({5, 6}), 9, b"frame") == 0


async def test_delivered_frames_coalesce_by_key_in_each_outbox():
    box = outbox(1)
    subs = subscribers(box)
    subs.fan_out(frozenset({1}), 9, b"user 9 online")
    subs.fan_out(frozenset({1}), 9, b"user 9 away")
    assert await box.next_batch() == [b"user 9 away"]


def test_of_and_count_list_a_users_outboxes():
    phone, laptop = outbox(1, "phone"), outbox(1, "laptop")
    subs = subscribers(phone, laptop, outbox(2))
    assert set(subs.of(1)) == {phone, laptop}
    assert subs.sockets_of(1) == 2
    assert list(subs.of(3)) == []


def test_removed_outbox_gets_no_more_frames():
    phone, laptop = outbox(1, "phone"), outbox(1, "laptop")
    subs = subscribers(phone, laptop)
    subs.remove(phone)
    assert subs.fan_out(frozenset({1}), 9, b"frame") == 1
    assert len(phone) == 0


def test_statistics_count_users_and_sockets():
    subs = subscribers(outbox(1, "phone"), outbox(1, "laptop"), outbox(2))
    assert subs.statistics() == SubscriberStatistics(users=2, sockets=3)


def test_removing_the_last_outbox_forgets_the_user():
    box = outbox(1)
    subs = subscribers(box)
    subs.remove(box)
    assert subs.statistics() == SubscriberStatistics(users=0, sockets=0)
    assert subs.sockets_of(1) == 0


def test_removing_an_unknown_outbox_changes_nothing():
    subs = subscribers(outbox(1))
    subs.remove(outbox(1))
    subs.remove(outbox(2))
    assert subs.statistics() == SubscriberStatistics(users=1, sockets=1)


# --- one writer for many outboxes (when_ready / take_nowait) -------------------------------


def test_take_nowait_is_empty_until_an_offer_and_then_takes_everything():
    box = outbox()
    assert box.take_nowait() == []
    box.offer(1, b"a")
    box.offer(1, b"a2")
    box.offer(2, b"b")
    assert box.take_nowait() == [b"a2", b"b"]
    assert box.take_nowait() == []


def test_when_ready_calls_back_once_at_the_next_offer():
    box = outbox()
    calls: list[int] = []
    box.when_ready(lambda: calls.append(len(box)))
    assert calls == []
    box.offer(1, b"a")
    box.offer(2, b"b")  # one-shot: not called again until re-registered
    assert calls == [1]


def test_when_ready_calls_back_at_once_when_frames_are_already_pending():
    box = outbox()
    box.offer(1, b"a")
    calls: list[str] = []
    box.when_ready(lambda: calls.append("ready"))
    assert calls == ["ready"]


def test_close_calls_back_and_then_take_nowait_says_end_of_channel():
    box = outbox()
    calls: list[str] = []
    box.when_ready(lambda: calls.append("closed"))
    box.close()
    assert calls == ["closed"]
    with pytest.raises(trio.EndOfChannel):
        box.take_nowait()
    box.when_ready(lambda: calls.append("again"))  # closed: at once
    assert calls == ["closed", "again"]
