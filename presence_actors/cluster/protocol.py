"""The node-to-node protocol as a state machine: messages and time in, actions out.

Sans-IO (like wsproto): no bus, no clock, no trio. `ClusterNode` feeds it what the bus
delivers (`receive`), the bus's state (`connected`, `disconnected`) and the time (`tick`,
at `next_deadline()`), and carries out the actions it returns.

- Every `heartbeat_interval` (NODE_TTL / 3) the node sends a `Heartbeat` with its latest
  delta number. A peer silent for NODE_TTL (on this node's clock) is down: `NodeDown`.
- A gap in a peer's numbers, a peer never heard of, or a peer that was down and speaks
  again: ask it for a snapshot (`TransferRequest`), again every interval until it comes.
- While this node's own bus is down it hears nobody, and that says nothing about them: no
  peer is declared down during an outage; on reconnection every peer gets NODE_TTL again,
  this node asks everyone for a snapshot and announces its own (it may have been declared
  down, and it missed their deltas).
- A node hears its own heartbeats come back; when they stop coming back while the bus
  says it is up, the subscription is stale (`Reconnect`), as Centrifugo probes its own.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from .facts import Facts
from .node_messages import Delta, Goodbye, Heartbeat, NodeMessage, Snapshot, TransferRequest


class PeerStatus(enum.Enum):
    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class Peer:
    status: PeerStatus
    seq: int  # the peer's latest delta this node has (by number)
    heard_at: float
    asked_at: float | None = None  # a snapshot was asked for and has not come yet
    info: str = ""


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    message: NodeMessage
    to: str | None = None  # None: every node; else that node's own channel


@dataclass(frozen=True, slots=True)
class Apply:
    """Merge a peer's delta into the local replicas."""

    node: str
    facts: Facts


@dataclass(frozen=True, slots=True)
class Restate:
    """A peer's whole state: merge it, and its socket counts become exactly these."""

    node: str
    facts: Facts


@dataclass(frozen=True, slots=True)
class Announce:
    """Send this node's own writes as a `Snapshot` (to one node, or None: to all)."""

    to: str | None


@dataclass(frozen=True, slots=True)
class NodeUp:
    node: str


@dataclass(frozen=True, slots=True)
class NodeDown:
    node: str


@dataclass(frozen=True, slots=True)
class Reconnect:
    """This node's own heartbeats stopped coming back: the subscription is stale."""


Action = Send | Apply | Restate | Announce | NodeUp | NodeDown | Reconnect


# --- the machine -------------------------------------------------------------------------


class NodeProtocol:
    def __init__(self, node: str, node_ttl: float, info: str = "") -> None:
        self.node = node
        self.node_ttl = node_ttl
        self.heartbeat_interval = node_ttl / 3
        self.info = info
        self.seq = 0
        self.peers: dict[str, Peer] = {}
        self.is_connected = False
        self._next_heartbeat = math.inf
        self._echo_due = math.inf  # our own heartbeat should be back by then

    # --- this node's side ------------------------------------------------------------

    def delta(self, facts: Facts) -> Delta:
        """Number this node's next batch of writes."""
        self.seq += 1
        return Delta(self.node, self.seq, facts)

    def snapshot(self, facts: Facts, to: str | None) -> Snapshot:
        return Snapshot(self.node, self.seq, to, facts)

    def goodbye(self) -> Goodbye:
        return Goodbye(self.node)

    def live_peers(self) -> frozenset[str]:
        return frozenset(n for n, p in self.peers.items() if p.status is PeerStatus.UP)

    def down_peers(self) -> frozenset[str]:
        return frozenset(n for n, p in self.peers.items() if p.status is PeerStatus.DOWN)

    # --- the bus ---------------------------------------------------------------------

    def connected(self, now: float) -> list[Action]:
        """The bus is (again) up: ask everyone for their state and announce ours."""
        self.is_connected = True
        for peer in self.peers.values():
            peer.heard_at = max(peer.heard_at, now)  # silence while we were deaf is no evidence
            peer.asked_at = None
        self._next_heartbeat = now
        self._echo_due = now + self.node_ttl
        return [Send(TransferRequest(self.node, None)), Announce(None), *self.tick(now)]

    def disconnected(self) -> None:
        self.is_connected = False
        self._next_heartbeat = self._echo_due = math.inf

    # --- time ------------------------------------------------------------------------

    def next_deadline(self) -> float:
        if not self.is_connected:
            return math.inf
        deadlines = [self._next_heartbeat, self._echo_due]
        for peer in self.peers.values():
            if peer.status is PeerStatus.UP:
                deadlines.append(peer.heard_at + self.node_ttl)
            if peer.asked_at is not None:
                deadlines.append(peer.asked_at + self.heartbeat_interval)
            if peer.status is PeerStatus.DOWN:
                deadlines.append(peer.heard_at + self._forget_after)
        return min(deadlines)

    @property
    def _forget_after(self) -> float:
        return 10 * self.node_ttl  # a down peer's record is kept this long, then dropped

    def tick(self, now: float) -> list[Action]:
        """Whatever is due at `now`: our heartbeat, peers gone silent, snapshot retries."""
        if not self.is_connected:
            return []
        actions: list[Action] = []
        if now >= self._next_heartbeat:
            actions.append(Send(Heartbeat(self.node, self.seq, self.info)))
            self._next_heartbeat = now + self.heartbeat_interval
        if now >= self._echo_due:
            self._echo_due = now + self.node_ttl
            actions.append(Reconnect())
        for name, peer in list(self.peers.items()):
            if peer.status is PeerStatus.UP and now >= peer.heard_at + self.node_ttl:
                peer.status, peer.asked_at = PeerStatus.DOWN, None
                actions.append(NodeDown(name))
            elif peer.status is PeerStatus.DOWN and now >= peer.heard_at + self._forget_after:
                del self.peers[name]
            elif peer.asked_at is not None and now >= peer.asked_at + self.heartbeat_interval:
                actions.extend(self._ask(name, peer, now))
        return actions

    # --- what peers say --------------------------------------------------------------

    def receive(self, message: NodeMessage, now: float) -> list[Action]:
        if message.node == self.node:
            if isinstance(message, Heartbeat):
                self._echo_due = now + self.node_ttl
            return []
        if isinstance(message, Goodbye):
            return self._goodbye(message.node)
        peer, actions = self._heard(message, now)
        match message:
            case Delta(node, seq, facts):
                if seq > peer.seq + 1:
                    actions.extend(self._ask(node, peer, now))
                peer.seq = max(peer.seq, seq)
                actions.append(Apply(node, facts))
            case Heartbeat(node, seq, info):
                peer.info = info
                if seq > peer.seq:
                    actions.extend(self._ask(node, peer, now))
            case TransferRequest(node, target):
                if target is None or target == self.node:
                    actions.append(Announce(node))
            case Snapshot(node, seq, to, facts):
                if to is not None and to != self.node:
                    return actions
                peer.seq = max(peer.seq, seq)
                peer.asked_at = None
                actions.append(Restate(node, facts))
        return actions

    def _heard(self, message: NodeMessage, now: float) -> tuple[Peer, list[Action]]:
        """Any message proves its sender alive; a new or returning one is asked for its state."""
        name = message.node
        peer = self.peers.get(name)
        actions: list[Action] = []
        if peer is None or peer.status is PeerStatus.DOWN:
            fresh = Peer(PeerStatus.UP, 0, now)
            actions.append(NodeUp(name))
            if (peer is not None or _has_history(message)) and not self._answers(message):
                actions.extend(self._ask(name, fresh, now))
            self.peers[name] = peer = fresh
        peer.heard_at = now
        return peer, actions

    def _answers(self, message: NodeMessage) -> bool:
        """A snapshot for this node (or for all) is the state a transfer would bring."""
        return isinstance(message, Snapshot) and message.to in (None, self.node)

    def _ask(self, name: str, peer: Peer, now: float) -> list[Action]:
        if peer.asked_at is not None and now < peer.asked_at + self.heartbeat_interval:
            return []  # already asked; the answer may still be on its way
        peer.asked_at = now
        return [Send(TransferRequest(self.node, name), to=name)]

    def _goodbye(self, name: str) -> list[Action]:
        peer = self.peers.pop(name, None)
        if peer is None or peer.status is PeerStatus.DOWN:
            return []
        return [NodeDown(name)]


def _has_history(message: NodeMessage) -> bool:
    """A first message from a node that already wrote things this node has not seen."""
    match message:
        case Delta(_, seq, _):
            return seq > 1
        case Heartbeat(_, seq, _) | Snapshot(_, seq, _, _):
            return seq > 0
    return False  # a transfer request: the node just joined, it has nothing to tell yet
