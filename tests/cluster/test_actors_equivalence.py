"""Three services in one cluster end where one service does (issue 11.5, in process): a
random sequence of status posts, sockets opened and closed and typing, each on a random
node, gives every node the reads and refusals of the single node given the same
sequence, after every step. MockClock, in-memory bus."""

from __future__ import annotations

from contextlib import AsyncExitStack

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from presence_actors import (
    MemoryStore,
    PresenceStatus,
    RateLimited,
    Timing,
    WallClock,
    open_presence,
)

from ..core.conftest import DEFAULT_DIRECTORY, T0
from .services import services, settle

NODES = ("a", "b", "c")
OPS = st.tuples(
    st.sampled_from([0, 0.5, 3, 5, 9.9, 11, 61]),  # seconds before the operation
    st.sampled_from(NODES),
    st.sampled_from(["status", "open", "close", "typing"]),
    st.sampled_from([1, 2, 3]),  # users 1-2-3 share conversation 10
    st.sampled_from(["phone", "laptop"]),
    st.sampled_from(list(PresenceStatus)),
)
TYPING_BURST = Timing().typing_burst  # no bucket can refuse (buckets are per node here)


async def views(service) -> list:
    """Everything a read shows, as each of the three users sees the others."""
    return [
        (viewer, view.user_id, view.status, view.last_seen, view.is_typing)
        for viewer in (1, 2, 3)
        for view in await service.presences(viewer)
    ]


class Sockets:
    """Sockets held open on one service, closed in the order they were opened."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self.stack = stack
        self.open: dict[tuple[int, str], list] = {}

    async def open_one(self, service, user_id: int, device: str) -> None:
        subscription = service.subscribe(user_id, device)
        await subscription.__aenter__()
        self.open.setdefault((user_id, device), []).append(subscription)

    async def close_one(self, user_id: int, device: str) -> bool:
        held = self.open.get((user_id, device))
        if not held:
            return False
        await held.pop(0).__aexit__(None, None, None)
        return True


async def step(service, sockets: Sockets, op: str, user: int, device: str, status, typed: int):
    """One operation; its outcome (what the caller saw)."""
    match op:
        case "status":
            try:
                return (await service.set_status(user, device, status)).status
            except RateLimited as refused:
                return ("429", refused.retry_after)
        case "open":
            await sockets.open_one(service, user, device)
        case "close":
            return await sockets.close_one(user, device)
        case "typing" if typed < TYPING_BURST:
            result = await service.set_typing(
                user, 10, status is not PresenceStatus.OFFLINE, device
            )
            return result.is_typing
    return None


async def run_both(ops) -> None:
    store = MemoryStore(DEFAULT_DIRECTORY)
    async with (
        open_presence(store, Timing(), WallClock(T0)) as single,
        services(*NODES) as nodes,
        AsyncExitStack() as stack,
    ):
        single_sockets = Sockets(stack)
        cluster_sockets = {name: Sockets(stack) for name in NODES}
        holders: dict[tuple[int, str], list[str]] = {}
        typed = 0
        for seconds, node, op, user, device, status in ops:
            await trio.sleep(seconds)
            if op == "close":  # close a socket where one is open
                node = (holders.get((user, device)) or [node])[0]
            expected = await step(single, single_sockets, op, user, device, status, typed)
            got = await step(
                nodes[node].service, cluster_sockets[node], op, user, device, status, typed
            )
            assert got == expected, (op, node)
            if op == "open":
                holders.setdefault((user, device), []).append(node)
            elif op == "close" and got:
                holders[(user, device)].pop(0)
            typed += op == "typing"
            await settle()
            reference = await views(single)
            for name, member in nodes.items():
                assert await views(member.service) == reference, name
        await stack.aclose()
        await trio.sleep(700)  # every device without a socket expires, everywhere alike
        reference = await views(single)
        for member in nodes.values():
            assert await views(member.service) == reference


@settings(max_examples=30, deadline=None)
@given(st.lists(OPS, max_size=25))
def test_three_services_end_where_one_service_does(ops):
    trio.run(run_both, ops, clock=trio.testing.MockClock(autojump_threshold=0))
