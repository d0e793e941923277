"""Clusters of ClusterNodes over the in-memory bus, on MockClock: propagation, node death,
outages and resynchronisation, with NODE_TTL = 10 s."""

from __future__ import annotations

import trio

from presence_actors.cluster import Snapshot, TransferRequest, decode, encode, user_replica
from presence_actors.model import PresenceStatus

from .harness import NODE_TTL, TIMING, cluster

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def test_a_write_on_one_node_reaches_every_node(autojump_clock):
    async with cluster("a", "b", "c") as group:
        group.members["a"].write(1, "set_status", "phone", AWAY)
        await group.settle()
        assert group.statuses(1) == {"a": AWAY, "b": AWAY, "c": AWAY}


async def test_the_aggregate_covers_devices_held_by_different_nodes(autojump_clock):
    async with cluster("a", "b", "c") as group:
        a, b = group.members["a"], group.members["b"]
        a.write(1, "connect", "phone")
        b.write(1, "set_status", "laptop", AWAY)
        await group.settle()
        a.write(1, "set_status", "phone", OFFLINE)
        await group.settle()
        assert group.statuses(1) == {"a": AWAY, "b": AWAY, "c": AWAY}


async def test_writes_in_one_turn_leave_as_one_delta(autojump_clock):
    async with cluster("a", "b") as group:
        a = group.members["a"]
        before = a.node.statistics().deltas_sent
        for user_id in range(1, 51):
            a.write(user_id, "connect", "phone")
        await group.settle()
        assert a.node.statistics().deltas_sent == before + 1
        assert group.members["b"].status(50) is ONLINE


async def test_a_killed_node_s_devices_go_offline_within_node_ttl(autojump_clock):
    async with cluster("a", "b", "c") as group:
        a, b = group.members["a"], group.members["b"]
        a.write(1, "connect", "phone")  # held by a socket on a
        b.write(2, "connect", "phone")  # held by b: must not move
        await group.settle()
        a.kill()
        # Its last heartbeat left at most NODE_TTL / 3 before it died.
        await trio.sleep(NODE_TTL - NODE_TTL / 3 - 0.01)
        assert group.statuses(1) == {"b": ONLINE, "c": ONLINE}
        await trio.sleep(NODE_TTL / 3 + 0.02)
        assert group.statuses(1) == {"b": OFFLINE, "c": OFFLINE}
        assert group.statuses(2) == {"b": ONLINE, "c": ONLINE}


async def test_a_node_that_says_goodbye_is_dropped_at_once(autojump_clock):
    async with cluster("a", "b") as group:
        a = group.members["a"]
        a.write(1, "connect", "phone")
        await group.settle()
        await a.node.leave(timeout=1.0)
        await group.settle()
        assert group.members["b"].status(1) is OFFLINE


async def test_a_node_joining_later_receives_everyone_s_state(autojump_clock):
    async with cluster("a", "b") as group:
        group.members["a"].write(1, "connect", "phone")
        group.members["b"].write(2, "set_status", "laptop", AWAY)
        await group.settle()
        c = await group.start("c")
        assert await c.node.wait_joined(timeout=1.0)
        assert c.status(1) is ONLINE and c.status(2) is AWAY


async def test_a_lost_delta_is_repaired_by_a_snapshot(autojump_clock):
    async with cluster("a", "b") as group:
        a, b = group.members["a"], group.members["b"]
        a.write(1, "connect", "phone")
        await group.settle()
        b.bus.cut()  # b misses the disconnect ...
        a.write(1, "disconnect", "phone")
        await group.settle()
        b.bus.restore()  # ... and hears of it from a's snapshot on reconnecting
        await group.settle()
        assert user_replica.open_sockets(b.table.user(1), "phone") == 0
        await trio.sleep(TIMING.disconnect_grace)
        assert b.status(1) is OFFLINE and a.status(1) is OFFLINE


async def test_a_gap_seen_in_heartbeats_brings_a_snapshot(autojump_clock):
    async with cluster("a", "b") as group:
        a, b = group.members["a"], group.members["b"]
        a.write(1, "connect", "phone")
        await group.settle()
        sent = a.bus.send
        a.bus.send = lambda data, to=None: None  # the next delta is lost on the way
        a.write(1, "set_status", "phone", AWAY)
        await group.settle()
        a.bus.send = sent
        assert b.status(1) is ONLINE
        await trio.sleep(NODE_TTL / 3)  # a's next heartbeat shows b the gap
        await group.settle()
        assert b.status(1) is AWAY
        assert b.node.statistics().snapshots_received >= 1


async def test_a_node_cut_off_keeps_its_own_and_catches_up_after(autojump_clock):
    async with cluster("a", "b", "c") as group:
        a, c = group.members["a"], group.members["c"]
        c.write(3, "connect", "phone")
        await group.settle()
        c.bus.cut()
        a.write(1, "set_status", "phone", AWAY)
        c.write(3, "set_status", "laptop", AWAY)  # c keeps serving its own users
        await trio.sleep(30.0)
        assert c.status(3) is ONLINE and c.status(1) is OFFLINE
        assert a.status(3) is OFFLINE  # a declared c down: its socket no longer counts
        assert c.node.protocol.down_peers() == frozenset()  # c declared nobody down
        c.bus.restore()
        await trio.sleep(0.5)
        assert group.statuses(3) == {"a": ONLINE, "b": ONLINE, "c": ONLINE}
        assert group.statuses(1) == {"a": AWAY, "b": AWAY, "c": AWAY}


async def test_a_stale_subscription_is_reconnected(autojump_clock):
    async with cluster("a") as group:
        a = group.members["a"]
        received = a.bus.arrive
        a.bus.arrive = lambda data: None  # nothing comes back, not even our heartbeats
        await trio.sleep(NODE_TTL + 0.1)
        a.bus.arrive = received
        assert a.bus.statistics().reconnects == 1


async def test_malformed_messages_are_counted_and_ignored(autojump_clock):
    async with cluster("a", "b") as group:
        group.members["b"].bus.send(b"\x00garbage")
        await group.settle()
        assert group.members["a"].node.statistics().malformed == 1
        group.members["b"].write(1, "connect", "phone")
        await group.settle()
        assert group.members["a"].status(1) is ONLINE


async def test_snapshots_carry_only_the_sender_s_own_writes(autojump_clock):
    async with cluster("a", "b") as group:
        a, b = group.members["a"], group.members["b"]
        a.write(1, "connect", "phone")
        b.write(2, "connect", "phone")
        await group.settle()
        seen = []
        sent = b.bus.send
        b.bus.send = lambda data, to=None: (seen.append(decode(data)), sent(data, to))
        a.bus.send(encode(TransferRequest("a", "b")), to="b")
        await group.settle()
        snapshots = [m for m in seen if isinstance(m, Snapshot)]
        assert snapshots and set(snapshots[0].facts.users) == {2}


async def test_a_node_drops_its_own_deltas_without_decoding_them(autojump_clock, monkeypatch):
    from presence_actors.cluster import node as node_module

    decoded: list[str] = []

    def counting(data):
        message = decode(data)
        decoded.append(type(message).__name__ + ":" + message.node)
        return message

    monkeypatch.setattr(node_module, "decode", counting)
    async with cluster("a", "b") as group:
        await group.settle()
        decoded.clear()
        for user_id in range(1, 4):
            group.members["a"].write(user_id, "connect", "phone")
            await group.settle()
        assert group.members["b"].status(3) is ONLINE
        assert decoded.count("Delta:a") == 3  # b decoded each of a's deltas, a none of them

