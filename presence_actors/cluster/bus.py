"""The transport between nodes, behind one interface, and its in-memory implementation.

A bus carries opaque bytes: to every node (`to=None`, the sender included, which is how a
node hears its own heartbeat come back) or to one node. It reports what happens to it as
events on a channel the node reads: `BusUp`, `BusDown`, `Received(data)`. `send` never
blocks and never raises: while the bus is down what is sent is dropped and counted (the
protocol's numbering and the snapshot on reconnection repair what was lost).

`MemoryHub` joins several `MemoryBus`es in one trio run, so a whole cluster, its outages
and its node deaths run on `MockClock` in tests. `RedisBus` (redis_bus.py) is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import trio


@dataclass(frozen=True, slots=True)
class BusUp:
    """Connected (again); every earlier message may have been missed."""


@dataclass(frozen=True, slots=True)
class BusDown:
    reason: str


@dataclass(frozen=True, slots=True)
class Received:
    data: bytes


BusEvent = BusUp | BusDown | Received


@dataclass(frozen=True, slots=True)
class BusStatistics:
    up: bool
    sent: int
    received: int
    dropped: int  # sent while down, or beyond the outgoing bound
    reconnects: int


class ClusterBus(Protocol):
    node: str

    async def run(
        self, events: trio.MemorySendChannel, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        """Connect and keep connecting (with backoff) until cancelled; report events.
        `task_status.started()` once the first attempt is over, up or not."""

    def send(self, data: bytes, to: str | None = None) -> None:
        """Queue for every node (None) or one node; never blocks, never raises."""

    def reconnect(self) -> None:
        """Drop the connection and connect again (the subscription looked stale)."""

    async def peer_count(self, timeout: float) -> int | None:
        """How many other nodes listen now; None when the bus cannot tell in time."""

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout`) until what was sent has left this process."""

    def statistics(self) -> BusStatistics: ...


class MemoryHub:
    """Every `MemoryBus` made from one hub hears the others, unless cut off."""

    def __init__(self) -> None:
        self.buses: dict[str, MemoryBus] = {}

    def bus(self, node: str) -> MemoryBus:
        bus = MemoryBus(self, node)
        self.buses[node] = bus
        return bus

    def deliver(self, sender: MemoryBus, data: bytes, to: str | None) -> None:
        targets = self.buses.values() if to is None else [self.buses.get(to)]
        for bus in targets:
            if bus is not None and bus.is_up:
                bus.arrive(data)


class MemoryBus:
    def __init__(self, hub: MemoryHub, node: str) -> None:
        self.hub = hub
        self.node = node
        self.is_up = False
        self._cut = False
        self._events: trio.MemorySendChannel | None = None
        self._sent = self._received = self._dropped = self._reconnects = 0

    async def run(
        self, events: trio.MemorySendChannel, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        self._events = events
        try:
            if not self._cut:
                self._set(True)
            task_status.started()
            await trio.sleep_forever()
        finally:
            self.is_up = False
            self.hub.buses.pop(self.node, None)

    def send(self, data: bytes, to: str | None = None) -> None:
        if not self.is_up:
            self._dropped += 1
            return
        self._sent += 1
        self.hub.deliver(self, data, to)

    def arrive(self, data: bytes) -> None:
        if self._events is None:
            return
        try:
            self._events.send_nowait(Received(data))
        except trio.WouldBlock:  # the node is that far behind: as lost as on a real bus
            self._dropped += 1
        else:
            self._received += 1

    def reconnect(self) -> None:
        if self.is_up:
            self._reconnects += 1
            self._set(False)
            self._set(True)

    async def peer_count(self, timeout: float) -> int | None:
        await trio.lowlevel.checkpoint()
        if not self.is_up:
            return None
        return sum(1 for bus in self.hub.buses.values() if bus.is_up and bus is not self)

    async def drain(self, timeout: float) -> None:
        await trio.lowlevel.checkpoint()  # delivery is immediate

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            self.is_up, self._sent, self._received, self._dropped, self._reconnects
        )

    # --- what tests do to it -------------------------------------------------------------

    def cut(self) -> None:
        """Lose the connection (an outage as this node sees it) until `restore`."""
        self._cut = True
        self._set(False)

    def restore(self) -> None:
        self._cut = False
        self._set(True)

    def _set(self, up: bool) -> None:
        if up == self.is_up or self._events is None:
            return
        self.is_up = up
        self._events.send_nowait(BusUp() if up else BusDown("cut off"))
