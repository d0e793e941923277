"""One node of the cluster: the protocol state machine, a bus, and a sink for what it learns.

`ClusterNode.run` is one loop with one deadline (house style): it waits for a bus event or
the protocol's next deadline, feeds it to `NodeProtocol`, carries out the actions, and
publishes everything written since the last turn as one numbered delta. `publish` never
blocks: it only adds to the buffer and wakes the loop, so a Redis outage never reaches a
request.

The sink receives what peers wrote. `ReplicaTable` is the reference sink; in phase 2 the
actor registry is (docs/cluster.md).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

import trio

from .bus import BusDown, BusEvent, BusStatistics, BusUp, ClusterBus, Received
from .codec import ProtocolError, decode, delta_prefix, encode
from .facts import FactBuffer, Facts
from .protocol import (
    Action,
    Announce,
    Apply,
    NodeDown,
    NodeProtocol,
    NodeUp,
    Reconnect,
    Restate,
    Send,
)

log = logging.getLogger("presence.cluster")
EVENT_BUFFER = 4096  # bus events waiting for the node loop; the bus waits beyond that


def new_node_id() -> str:
    """A node's id: fresh at every start (Phoenix's `vsn`), so a restarted process is a
    new node and never inherits what its previous run was declared to hold."""
    return secrets.token_hex(4)


class ClusterSink(Protocol):
    """Where a node puts what it learns, and where it reads its own writes from."""

    def apply(self, node: str, facts: Facts) -> None: ...
    def restate(self, node: str, facts: Facts) -> None: ...
    def node_down(self, node: str) -> None: ...
    def node_up(self, node: str) -> None: ...
    def own_facts(self) -> Facts: ...


@dataclass(frozen=True, slots=True)
class NodeStatistics:
    node: str
    bus: BusStatistics
    seq: int
    peers_up: int
    peers_down: int
    deltas_sent: int
    snapshots_sent: int
    snapshots_received: int
    malformed: int


class _Flush:
    """Wakes the loop to publish what `publish` buffered."""


_FLUSH = _Flush()


class ClusterNode:
    def __init__(self, bus: ClusterBus, sink: ClusterSink, node_ttl: float, info: str = "") -> None:
        self.bus = bus
        self.sink = sink
        self.node = bus.node
        self._own_delta = delta_prefix(self.node)
        self.protocol = NodeProtocol(bus.node, node_ttl, info)
        self._buffer = FactBuffer()
        self._events: trio.MemorySendChannel | None = None
        self._flush_pending = False
        self._up = trio.Event()
        self._restated_by: set[str] = set()
        self._restated = trio.Event()
        self._deltas = self._snapshots_sent = self._snapshots_received = self._malformed = 0

    # --- what the service calls ----------------------------------------------------------

    def publish(self, facts: Facts) -> None:
        """Send these local writes to every node, with whatever else is written this turn."""
        if not facts:
            return
        self._buffer.add(facts)
        if not self._flush_pending and self._events is not None:
            self._flush_pending = True
            # A full queue means a busy loop, which flushes after every turn anyway.
            with contextlib.suppress(trio.WouldBlock):
                self._events.send_nowait(_FLUSH)

    def live_nodes(self) -> frozenset[str]:
        """This node and every peer it hears (for the persistence owner, `owner_of`)."""
        return self.protocol.live_peers() | {self.node}

    @property
    def is_connected(self) -> bool:
        return self.protocol.is_connected

    async def wait_joined(self, timeout: float) -> bool:
        """Wait until the bus is up and every node listening on it has sent its snapshot;
        False when that did not happen within `timeout` (start-up decides what to do)."""
        with trio.move_on_after(timeout):
            await self._up.wait()
            expected = await self.bus.peer_count(timeout)
            if expected is None:
                return False
            while len(self._restated_by) < expected:
                await self._restated.wait()
            return True
        return False

    async def leave(self, timeout: float) -> None:
        """A clean stop: publish what is pending and say goodbye, within `timeout`."""
        self._flush()
        self.bus.send(encode(self.protocol.goodbye()))
        await self.bus.drain(timeout)

    def statistics(self) -> NodeStatistics:
        protocol = self.protocol
        return NodeStatistics(
            self.node,
            self.bus.statistics(),
            protocol.seq,
            len(protocol.live_peers()),
            len(protocol.down_peers()),
            self._deltas,
            self._snapshots_sent,
            self._snapshots_received,
            self._malformed,
        )

    # --- the loop ------------------------------------------------------------------------

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; `task_status.started(self)` once the bus made its first try."""
        self._events, events = trio.open_memory_channel[BusEvent | _Flush](EVENT_BUFFER)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.bus.run, self._events)
            task_status.started(self)
            while True:
                deadline = self.protocol.next_deadline()
                with trio.move_on_at(deadline):
                    self._on_event(await events.receive())
                    while True:  # take everything already queued in this turn
                        try:
                            self._on_event(events.receive_nowait())
                        except trio.WouldBlock:
                            break
                self._execute(self.protocol.tick(trio.current_time()))
                self._flush()

    def _on_event(self, event: BusEvent | _Flush) -> None:
        now = trio.current_time()
        match event:
            case Received(data):
                if isinstance(data, bytes) and data.startswith(self._own_delta):
                    return  # our own delta, back from the channel: half of all traffic
                try:
                    message = decode(data)
                except ProtocolError as error:
                    self._malformed += 1
                    log.warning("dropped a malformed cluster message: %s", error)
                    return
                self._execute(self.protocol.receive(message, now))
            case BusUp():
                log.info("cluster bus up: node %s announces itself", self.node)
                self._flush()  # what was written while down goes out before the snapshot
                self._execute(self.protocol.connected(now))
                self._up.set()
            case BusDown(reason):
                log.warning("cluster bus down (%s): serving what this node holds", reason)
                self.protocol.disconnected()
            case _Flush():
                self._flush_pending = False

    def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Send(message, to):
                    self.bus.send(encode(message), to)
                case Apply(node, facts):
                    self.sink.apply(node, facts)
                case Restate(node, facts):
                    self.sink.restate(node, facts)
                    self._snapshots_received += 1
                    self._restated_by.add(node)
                    self._restated.set()
                    self._restated = trio.Event()
                case Announce(to):
                    self._flush()
                    snapshot = self.protocol.snapshot(self.sink.own_facts(), to)
                    self.bus.send(encode(snapshot), to)
                    self._snapshots_sent += 1
                case NodeUp(node):
                    log.info("cluster node %s is up", node)
                    self.sink.node_up(node)
                case NodeDown(node):
                    log.warning("cluster node %s is down: dropping its sockets", node)
                    self._restated_by.discard(node)
                    self.sink.node_down(node)
                case Reconnect():
                    log.warning("own heartbeats stopped coming back: reconnecting the bus")
                    self.bus.reconnect()

    def _flush(self) -> None:
        facts = self._buffer.take()
        if facts:
            self.bus.send(encode(self.protocol.delta(facts)))
            self._deltas += 1
