"""Three PresenceServices in one cluster (in-memory bus, MockClock): every node answers as
one node would (SPEC §13). Users 1-2-3 share conversation 10; 1 and 2 are partners."""

from __future__ import annotations

import orjson
import trio

from presence_actors import PresenceRecord, PresenceStatus
from presence_actors.cluster import owner_of

from ..core.conftest import T0, collect, next_message
from .services import NODE_TTL, services, settle

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def statuses(nodes, user_id: int, viewer: int = 2) -> dict[str, PresenceStatus]:
    return {name: (await n.service.presence(viewer, user_id)).status for name, n in nodes.items()}


async def test_a_change_on_one_node_is_pushed_to_subscribers_on_the_others(autojump_clock):
    with trio.fail_after(60):
        async with (
            services("a", "b", "c") as nodes,
            nodes["b"].service.subscribe(2, "phone") as watcher,
        ):
            await nodes["a"].service.set_status(1, "phone", AWAY)
            frame = await next_message(watcher.outbox)
            assert frame["type"] == "presence_update"
            assert frame["data"] == {
                "user_id": 1,
                "status": "away",
                "last_seen": "2024-01-01T12:00:00Z",
            }
            assert await statuses(nodes, 1) == {"a": AWAY, "b": AWAY, "c": AWAY}


async def test_the_aggregate_covers_devices_on_two_nodes(autojump_clock):
    with trio.fail_after(120):
        async with services("a", "b", "c") as nodes:
            async with nodes["a"].service.subscribe(1, "phone"):
                await nodes["b"].service.set_status(1, "laptop", AWAY)
                await settle()
                assert await statuses(nodes, 1) == {"a": ONLINE, "b": ONLINE, "c": ONLINE}
            await trio.sleep(9.9)  # the phone's disconnect grace (10 s) is not over
            assert await statuses(nodes, 1) == {"a": ONLINE, "b": ONLINE, "c": ONLINE}
            await trio.sleep(0.2)
            assert await statuses(nodes, 1) == {"a": AWAY, "b": AWAY, "c": AWAY}
            await nodes["c"].service.set_status(1, "laptop", OFFLINE)
            await settle()
            assert await statuses(nodes, 1) == {"a": OFFLINE, "b": OFFLINE, "c": OFFLINE}


async def test_initial_state_includes_users_live_only_on_other_nodes(autojump_clock):
    with trio.fail_after(60):
        async with services("a", "b", "c") as nodes:
            await nodes["a"].service.set_status(1, "phone", ONLINE)
            await nodes["c"].service.set_typing(3, 10, True, device_id="laptop")
            await settle()
            async with nodes["b"].service.subscribe(2, "phone") as watcher:
                state = orjson.loads(watcher.initial_frame)["data"]
                by_id = {p["user_id"]: p["status"] for p in state["presences"]}
                assert by_id == {1: "online", 2: "online", 3: "online"}  # 3 typed: activity
                typing = [{"user_id": 3, "conversation_id": 10, "is_typing": True}]
                assert state["typing"] == typing


async def test_typing_reaches_other_nodes_and_expires_there(autojump_clock):
    with trio.fail_after(60):
        async with (
            services("a", "b", "c") as nodes,
            nodes["b"].service.subscribe(2, "phone") as watcher,
        ):
            await nodes["a"].service.set_status(1, "phone", ONLINE)
            await next_message(watcher.outbox)  # 1 online
            await nodes["a"].service.set_typing(1, 10, True, device_id="phone")
            started = await next_message(watcher.outbox)
            assert started["type"] == "typing_update"
            assert started["data"]["is_typing"] is True
            assert (await nodes["c"].service.presence(3, 1)).is_typing
            await trio.sleep(4.9)
            assert (await nodes["c"].service.presence(3, 1)).is_typing
            stopped = await next_message(watcher.outbox)
            assert stopped["data"] == {"user_id": 1, "conversation_id": 10, "is_typing": False}
            assert trio.current_time() == 5.0
            assert not (await nodes["c"].service.presence(3, 1)).is_typing


async def test_a_dead_node_s_devices_are_dropped_by_the_others(autojump_clock):
    with trio.fail_after(120):
        async with (
            services("a", "b", "c") as nodes,
            nodes["a"].service.subscribe(1, "phone"),
            nodes["b"].service.subscribe(2, "phone") as watcher,
        ):
            await settle()
            watcher.outbox.discard_pending()
            assert await statuses(nodes, 1) == {"a": ONLINE, "b": ONLINE, "c": ONLINE}
            nodes["a"].kill()
            await trio.sleep(NODE_TTL - NODE_TTL / 3 - 0.1)  # its last heartbeat + TTL
            assert (await nodes["b"].service.presence(2, 1)).status is ONLINE
            [frame] = await collect(watcher.outbox, 1)
            assert frame["data"]["status"] == "offline"
            assert trio.current_time() <= NODE_TTL + 0.01
            assert (await nodes["c"].service.presence(2, 1)).status is OFFLINE
            assert (await nodes["b"].service.presence(1, 2)).status is ONLINE


async def test_only_the_owner_of_a_user_persists_it(autojump_clock):
    with trio.fail_after(60):
        async with services("a", "b", "c", own_stores=True) as nodes:
            owner = owner_of(1, nodes)
            writer = next(name for name in nodes if name != owner)
            await nodes[writer].service.set_status(1, "phone", AWAY)
            await settle()
            persisted = {name: n.service.store.rows.get(1) for name, n in nodes.items()}
            assert persisted[owner] == PresenceRecord(1, AWAY, T0)
            assert [name for name, row in persisted.items() if row is not None] == [owner]


async def test_the_owner_of_a_dead_node_s_user_persists_it_offline(autojump_clock):
    with trio.fail_after(120):
        async with services("a", "b", "c", own_stores=True) as nodes:
            # A user owned by a: when a dies, the next owner persists the user offline.
            user = next(uid for uid in range(1, 6) if owner_of(uid, nodes) == "a")
            async with nodes["a"].service.subscribe(user, "phone"):
                await settle()
                nodes["a"].kill()
                await trio.sleep(NODE_TTL + 0.1)
                heir = owner_of(user, ("b", "c"))
                assert nodes[heir].service.store.rows[user].status is OFFLINE
