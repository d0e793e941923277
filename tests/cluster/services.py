"""Whole clusters of `PresenceService`s in one trio run: each service attached to a
`ClusterNode` on one `MemoryHub`, all on one MemoryStore (one database), on MockClock."""

from __future__ import annotations

from contextlib import AsyncExitStack, asynccontextmanager

import trio
import trio.testing

from presence_actors import MemoryStore, PresenceService, Timing, WallClock, open_presence
from presence_actors.cluster import ClusterNode, MemoryHub

from ..core.conftest import DEFAULT_DIRECTORY, T0

NODE_TTL = 10.0


class Node:
    """One service and the cluster node it is attached to."""

    def __init__(self, name: str, service: PresenceService, node: ClusterNode) -> None:
        self.name = name
        self.service = service
        self.node = node
        self.scope = trio.CancelScope()

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with self.scope:
            await self.node.run(task_status=task_status)

    def kill(self) -> None:
        """Its cluster node goes silent without a word (as under SIGKILL); the service
        itself keeps running, deaf and mute."""
        self.scope.cancel()


async def settle() -> None:
    """Let every message in flight arrive and every actor act on it (no time passes)."""
    await trio.testing.wait_all_tasks_blocked()


@asynccontextmanager
async def services(
    *names: str, directory=DEFAULT_DIRECTORY, own_stores=False, limiters=None, **timing
):
    """Services named `names` in one cluster, joined; yields {name: Node}. `own_stores`:
    a MemoryStore per node (to see which node persisted what), else one for all;
    `limiters`: {name: ClusterLimiter} for the nodes that have one."""
    hub, shared = MemoryHub(), MemoryStore(directory)
    async with AsyncExitStack() as stack:
        nursery = await stack.enter_async_context(trio.open_nursery())
        nodes: dict[str, Node] = {}
        for name in names:
            store = MemoryStore(directory) if own_stores else shared
            service = await stack.enter_async_context(
                open_presence(store, Timing(**timing), WallClock(T0))
            )
            node = ClusterNode(hub.bus(name), service.cluster_sink, NODE_TTL)
            service.attach_cluster(node, (limiters or {}).get(name))
            nodes[name] = Node(name, service, node)
            await nursery.start(nodes[name].run)
        for node in nodes.values():
            assert await node.node.wait_joined(timeout=NODE_TTL)
        await settle()
        yield nodes
        nursery.cancel_scope.cancel()
