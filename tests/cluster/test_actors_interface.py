"""The surface the cluster host builds on: `PresenceService.cluster_sink`,
`attach_cluster` and `live_user_ids` (docs/cluster.md, "Phase 2")."""

from __future__ import annotations

import trio

from presence_actors import PresenceStatus
from presence_actors.cluster import ClusterNode, Facts, MemoryHub

from ..core.conftest import running

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


async def test_the_service_s_sink_is_a_cluster_sink_a_node_can_run_on(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            sink = service.cluster_sink
            node = ClusterNode(MemoryHub().bus("a"), sink, node_ttl=10.0)
            service.attach_cluster(node, None)
            assert service.cluster is node
            assert isinstance(sink.own_facts(), Facts)


async def test_live_user_ids_are_the_users_with_a_live_device(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await service.set_status(1, "phone", ONLINE)
            await service.set_status(2, "phone", AWAY)
            await service.set_status(3, "phone", ONLINE)
            await service.set_status(3, "phone", OFFLINE)
            assert service.live_user_ids() == {1, 2}
