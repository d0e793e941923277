"""Open sockets follow the directory (SPEC §4, issue 8.3), through the service on the
autojump clock: a directory change reaches the store's version, the next poll (0.5 s)
loads it, and subscribers hear `presence_update` for users who became visible,
`presence_removed` for users who stopped being visible (and nothing more about them),
and the typing of conversations they joined or left."""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from presence_actors import (
    DirectoryData,
    MemoryStore,
    NotFound,
    PresenceRecord,
    PresenceStatus,
    Timing,
    WallClock,
    open_presence,
)

from .conftest import DEFAULT_DIRECTORY, T0, collect, running

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
POLL = Timing().directory_poll


def edited(data: DirectoryData, **fields) -> DirectoryData:
    values = {"users": data.users, "partnerships": data.partnerships,
              "circles": data.circles, "conversations": data.conversations}
    values.update(fields)
    return DirectoryData(**values)


async def change_directory(service, data: DirectoryData) -> None:
    """Write the directory as an import elsewhere would, and wait for the next poll."""
    service.store.directory = data
    await trio.sleep(POLL + 0.01)
    await trio.testing.wait_all_tasks_blocked()


async def drained(outbox) -> list[dict]:
    """Everything pending for one socket, parsed; [] when nothing is (no waiting)."""
    if not len(outbox):
        return []
    return [orjson.loads(frame) for frame in await outbox.next_batch()]


async def test_a_new_partner_who_is_online_is_pushed_to_open_sockets(autojump_clock):
    # Regression (issue 8.3): an open socket never learned of a user who became visible
    # until that user's next change.
    with trio.fail_after(60):
        async with running() as service, service.subscribe(3, "web") as alan:
            await service.set_status(4, "phone", AWAY)
            assert await drained(alan.outbox) == []
            started = trio.current_time()
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, partnerships=DEFAULT_DIRECTORY.partnerships | {(3, 4)}))
            assert trio.current_time() - started <= 1.0
            assert await drained(alan.outbox) == [{"type": "presence_update", "data": {
                "user_id": 4, "status": "away", "last_seen": "2024-01-01T12:00:00Z"}}]


async def test_a_new_partner_who_is_offline_is_pushed_with_their_stored_last_seen(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(3, "web") as alan:
            service.store.rows[4] = PresenceRecord(4, OFFLINE, T0 - 3600)
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, partnerships=DEFAULT_DIRECTORY.partnerships | {(3, 4)}))
            assert await drained(alan.outbox) == [{"type": "presence_update", "data": {
                "user_id": 4, "status": "offline", "last_seen": "2024-01-01T11:00:00Z"}}]


async def test_both_sides_of_a_new_relation_hear_of_each_other(autojump_clock):
    with trio.fail_after(60):
        async with (
            running() as service,
            service.subscribe(3, "web") as alan,
            service.subscribe(4, "web") as linus,
        ):
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, circles={7: ("club", frozenset({3, 4}))}))
            assert [(f["type"], f["data"]["user_id"], f["data"]["status"])
                    for f in await drained(alan.outbox)] == [("presence_update", 4, "online")]
            assert [(f["type"], f["data"]["user_id"], f["data"]["status"])
                    for f in await drained(linus.outbox)] == [("presence_update", 3, "online")]


async def test_a_user_who_stops_being_visible_is_removed_and_never_mentioned_again(autojump_clock):
    with trio.fail_after(1000):
        async with running() as service, service.subscribe(4, "web") as linus:
            await service.set_status(5, "phone", ONLINE)
            await drained(linus.outbox)
            await change_directory(service, edited(DEFAULT_DIRECTORY, partnerships=frozenset(
                {(1, 2)})))
            assert await drained(linus.outbox) == [
                {"type": "presence_removed", "data": {"user_id": 5}}]
            await service.set_status(5, "phone", OFFLINE)
            await trio.sleep(700)
            assert await drained(linus.outbox) == []


async def test_presence_removed_replaces_a_pending_update_and_typing_of_that_user(autojump_clock):
    # Per connection, events for one key keep their order: the removal shares the
    # presence key, so an update still waiting is replaced, never sent after it.
    with trio.fail_after(60):
        async with running() as service, service.subscribe(3, "web") as alan:
            await service.set_status(2, "phone", AWAY)
            await service.set_typing(2, 10, True)
            assert len(alan.outbox) == 2  # not yet written to the socket
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, conversations={10: frozenset({1, 2})}))
            assert await drained(alan.outbox) == [
                {"type": "presence_removed", "data": {"user_id": 2}},  # where the update was
                {"type": "presence_removed", "data": {"user_id": 1}},
            ]


async def test_a_user_who_becomes_visible_again_is_pushed_again(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(4, "web") as linus:
            alone = edited(DEFAULT_DIRECTORY, partnerships=frozenset({(1, 2)}))
            await change_directory(service, alone)
            await change_directory(service, DEFAULT_DIRECTORY)
            assert [(f["type"], f["data"]["user_id"]) for f in await drained(linus.outbox)] == \
                [("presence_update", 5)]  # the removal, then the update, coalesced by key


async def test_joining_a_conversation_shows_who_types_there(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(4, "web") as linus:
            await service.set_status(2, "phone", ONLINE)
            await service.set_typing(2, 10, True)
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, conversations={10: frozenset({1, 2, 3, 4})}))
            frames = await drained(linus.outbox)
            assert {"type": "typing_update",
                    "data": {"user_id": 2, "conversation_id": 10, "is_typing": True}} in frames
            assert sorted(f["data"]["user_id"] for f in frames
                          if f["type"] == "presence_update") == [1, 2, 3]


async def test_leaving_a_conversation_stops_its_typing_for_the_viewer(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(1, "web") as ada:
            await service.set_typing(2, 10, True)
            await service.set_typing(3, 10, True)
            await drained(ada.outbox)
            # Ada leaves conversation 10: Grace is still her partner, Alan is gone.
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, conversations={10: frozenset({2, 3})}))
            assert await drained(ada.outbox) == [
                {"type": "presence_removed", "data": {"user_id": 3}},
                {"type": "typing_update",
                 "data": {"user_id": 2, "conversation_id": 10, "is_typing": False}},
            ]


async def test_a_typer_who_leaves_stops_typing_for_those_who_remain(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(1, "web") as ada:
            await service.set_typing(3, 10, True)
            await drained(ada.outbox)
            # Alan leaves conversation 10 but stays in a circle with Ada.
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, conversations={10: frozenset({1, 2})},
                circles={7: ("club", frozenset({1, 3}))}))
            assert await drained(ada.outbox) == [{"type": "typing_update", "data": {
                "user_id": 3, "conversation_id": 10, "is_typing": False}}]
            assert service.context.typing.typers(10) == {}
            assert not (await service.presence(1, 3)).is_typing


async def test_a_removed_user_is_expelled_refused_and_concealed(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            expelled: list[int] = []
            service.on_user_removed(expelled.append)
            async with service.subscribe(2, "web") as grace, service.subscribe(1, "web") as ada:
                await drained(ada.outbox)
                await drained(grace.outbox)
                users = {uid: name for uid, name in DEFAULT_DIRECTORY.users.items() if uid != 2}
                await change_directory(service, edited(
                    DEFAULT_DIRECTORY, users=users, partnerships=frozenset({(4, 5)}),
                    conversations={10: frozenset({1, 3})}))
                assert expelled == [2]
                assert await drained(ada.outbox) == [
                    {"type": "presence_removed", "data": {"user_id": 2}}]
                assert await drained(grace.outbox) == []
            with pytest.raises(NotFound):
                async with service.subscribe(2, "web"):
                    pass


async def test_a_change_reaches_a_subscription_still_waiting_for_its_actor(autojump_clock):
    # The outbox is registered before the actor answers; whatever the directory does
    # meanwhile, initial_state (read after) and the outbox together are right.
    class SlowStore(MemoryStore):
        async def load_presence(self, user_ids):
            await trio.sleep(1)
            return await super().load_presence(user_ids)

    with trio.fail_after(60):
        store = SlowStore(DEFAULT_DIRECTORY)
        subscribed, holder = trio.Event(), {}
        async with (
            open_presence(store, Timing(), WallClock(T0)) as service,
            trio.open_nursery() as nursery,
        ):
            async def subscribe():
                async with service.subscribe(3, "web") as sub:
                    holder["sub"] = sub
                    subscribed.set()
                    await trio.sleep_forever()

            nursery.start_soon(subscribe)
            await trio.sleep(0.1)
            store.directory = edited(
                DEFAULT_DIRECTORY, partnerships=DEFAULT_DIRECTORY.partnerships | {(3, 4)})
            await subscribed.wait()
            initial = orjson.loads(holder["sub"].initial_frame)
            assert [p["user_id"] for p in initial["data"]["presences"]] == [1, 2, 3, 4]
            shown = {"user_id": 4, "status": "offline", "last_seen": None}
            assert initial["data"]["presences"][3] == {**shown, "is_typing": False}
            for frame in await drained(holder["sub"].outbox):  # a repeat at most
                assert frame == {"type": "presence_update", "data": shown}
            nursery.cancel_scope.cancel()


async def test_frames_of_a_directory_change_arrive_through_the_outbox(autojump_clock):
    with trio.fail_after(60):
        async with running() as service, service.subscribe(3, "web") as alan:
            service.store.directory = edited(
                DEFAULT_DIRECTORY, partnerships=DEFAULT_DIRECTORY.partnerships | {(3, 4)})
            [frame] = await collect(alan.outbox, 1)
            assert (frame["type"], frame["data"]["user_id"]) == ("presence_update", 4)


async def test_a_concealed_typer_s_typing_end_is_not_sent_after_presence_removed(autojump_clock):
    # Alan types in conversation 10, then leaves it: Ada no longer sees him. His indicator
    # ends in the conversation actor (at once, or at its expiry), but Ada was told he is
    # gone: nothing more about him, not even `is_typing: false`.
    with trio.fail_after(60):
        async with running() as service, service.subscribe(1, "web") as ada:
            await service.set_typing(3, 10, True)
            await drained(ada.outbox)
            await change_directory(service, edited(
                DEFAULT_DIRECTORY, conversations={10: frozenset({1, 2})}))
            await trio.sleep(service.context.timing.typing_ttl + 1)
            assert await drained(ada.outbox) == [
                {"type": "presence_removed", "data": {"user_id": 3}}]
