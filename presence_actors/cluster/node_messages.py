"""What nodes say to each other over the bus: a closed set of frozen messages.

Every node publishes its own writes as numbered `Delta`s and a `Heartbeat` carrying its
latest number; a receiver that sees a gap (or a node it has never heard of, or one it had
declared down) asks that node for a `Snapshot` with a `TransferRequest`. `Goodbye` is a
clean stop: the others drop the node at once instead of waiting for its silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from .facts import Facts


@dataclass(frozen=True, slots=True)
class Delta:
    node: str
    seq: int  # 1, 2, 3 ... per node and per run of it
    facts: Facts


@dataclass(frozen=True, slots=True)
class Heartbeat:
    node: str
    seq: int  # the sender's latest delta
    info: str = ""  # host and pid, for operators reading logs


@dataclass(frozen=True, slots=True)
class TransferRequest:
    node: str  # who asks
    target: str | None  # whose state; None: everyone's (a node that just joined or came back)


@dataclass(frozen=True, slots=True)
class Snapshot:
    node: str  # whose writes these are
    seq: int  # they include every delta up to this one
    to: str | None  # the node that asked; None: announced to every node
    facts: Facts


@dataclass(frozen=True, slots=True)
class Goodbye:
    node: str


NodeMessage = Delta | Heartbeat | TransferRequest | Snapshot | Goodbye
