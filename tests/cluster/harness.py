"""Whole clusters in one trio run: `ClusterNode`s over a `MemoryHub`, each with a
`ReplicaTable`, written to through the same pure writes the actors will use."""

from __future__ import annotations

from contextlib import asynccontextmanager

import trio
import trio.testing

from presence_actors.cluster import (
    ClusterNode,
    Facts,
    MemoryHub,
    ReplicaTable,
    user_replica,
    user_writes,
)
from presence_actors.model import PresenceStatus
from presence_actors.timing import Timing

TIMING = Timing()
NODE_TTL = 10.0
T0 = 1_704_110_400.0  # wall time at trio time 0 in these tests


class Member:
    """One node: its table, its ClusterNode and the scope that runs it."""

    def __init__(self, hub: MemoryHub, name: str, node_ttl: float) -> None:
        self.name = name
        self.table = ReplicaTable(name)
        self.bus = hub.bus(name)
        self.node = ClusterNode(self.bus, self.table, node_ttl)
        self.scope = trio.CancelScope()

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with self.scope:
            await self.node.run(task_status=task_status)

    def kill(self) -> None:
        """Gone without a word, as under SIGKILL."""
        self.scope.cancel()

    def write(self, user_id: int, op: str, *args) -> None:
        """A write made on this node: applied here, published to the others."""
        replica = self.table.user(user_id)
        now = wall()
        delta = getattr(user_writes, op)(replica, self.name, *args, now, TIMING, self.table.down)
        facts = Facts({user_id: delta})
        self.table.apply(self.name, facts)
        self.node.publish(facts)

    def status(self, user_id: int) -> PresenceStatus:
        return user_replica.aggregate(self.table.user(user_id), wall(), self.table.down)


def wall() -> float:
    return T0 + trio.current_time()


class Cluster:
    def __init__(self, nursery: trio.Nursery, node_ttl: float) -> None:
        self.hub = MemoryHub()
        self.nursery = nursery
        self.node_ttl = node_ttl
        self.members: dict[str, Member] = {}

    async def start(self, name: str) -> Member:
        member = Member(self.hub, name, self.node_ttl)
        self.members[name] = member
        await self.nursery.start(member.run)
        return member

    async def settle(self) -> None:
        """Let every message in flight arrive (no time passes)."""
        await trio.testing.wait_all_tasks_blocked()

    def statuses(self, user_id: int) -> dict[str, PresenceStatus]:
        members = self.members.items()
        return {name: m.status(user_id) for name, m in members if not m.scope.cancel_called}


@asynccontextmanager
async def cluster(*names: str, node_ttl: float = NODE_TTL):
    async with trio.open_nursery() as nursery:
        group = Cluster(nursery, node_ttl)
        for name in names:
            await group.start(name)
        await group.settle()
        yield group
        nursery.cancel_scope.cancel()
