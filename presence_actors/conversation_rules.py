"""A conversation's typing rules (SPEC §6) as pure functions, `now` passed in.

The state is the conversation's `ConversationReplica` (docs/cluster.md): every typer's
latest write, from whichever node made it; a write made here is merged and, in a cluster,
sent to the other nodes (`Replicate`); peers' writes arrive as `Merge`. The typers are
derived from the replica (a typer written last by a node that is down stops at once).

`is_typing: true` sets the typer's expiry to now + TTL (a refresh only extends it);
`false` clears it. A push happens only when someone starts or stops typing, expiry
included. Each (user, conversation) has a token bucket: bursts of 5, 1 per second.
Whenever the typers change (an expiry extended included), a `Publish` effect puts them in
the typing index, which reads use and from which a fresh actor rebuilds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .bucket import Bucket, take
from .cluster import typing_replica
from .cluster.stamp import Stamp
from .cluster.typing_replica import ConversationReplica, TypingFact
from .cluster.user_replica import NO_FACTS, NO_NODES
from .errors import RateLimited
from .messages import Answer, Expire
from .model import TypingRecord
from .timing import Timing
from .user_rules import LOCAL

if TYPE_CHECKING:  # typing only: the rules import no trio
    from .mailbox import ReplySlot

# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationState:
    replica: ConversationReplica
    typers: Mapping[int, float]  # user_id -> expires_at, as of the last step (published)
    buckets: Mapping[int, Bucket]  # only users whose bucket is not full
    node: str = LOCAL  # this node: it stamps the writes made here
    down: frozenset[str] = NO_NODES  # peers declared down: their typers stop

    @property
    def conversation_id(self) -> int:
        return self.replica.conversation_id

    @property
    def in_cluster(self) -> bool:
        return self.node != LOCAL


def new_conversation(
    conversation_id: int,
    typers: Mapping[int, float] = NO_FACTS,
    timing: Timing | None = None,
    node: str = LOCAL,
    down: frozenset[str] = NO_NODES,
) -> ConversationState:
    """A conversation, with the typers (user -> expires_at) a predecessor published: they
    are restated as this node's writes (of when they started: expiry - TTL)."""
    ttl = (timing or Timing()).typing_ttl
    facts = {uid: TypingFact(Stamp(at - ttl, 0, node), at) for uid, at in typers.items()}
    replica = ConversationReplica(conversation_id, facts or NO_FACTS)
    return ConversationState(replica, dict(typers), {}, node, down)


@dataclass(frozen=True, slots=True)
class TypingResult:
    conversation_id: int
    user_id: int
    is_typing: bool
    expires_at: float | None


# --- messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetTyping:
    user_id: int
    is_typing: bool
    reply: ReplySlot | None = None
    admitted: bool | None = None  # the cluster limiter's verdict; None: the local bucket decides


@dataclass(frozen=True, slots=True)
class ClearUser:
    """The user went offline: stop their typing here, without charging their bucket."""

    user_id: int


@dataclass(frozen=True, slots=True)
class Merge:
    """A peer's typing writes in this conversation (its delta or snapshot)."""

    facts: ConversationReplica


@dataclass(frozen=True, slots=True)
class NodeDown:
    node: str


@dataclass(frozen=True, slots=True)
class NodeUp:
    node: str


ConversationMessage = SetTyping | ClearUser | Merge | NodeDown | NodeUp | Expire


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    """Tell the other participants: this user started or stopped typing here."""

    record: TypingRecord


@dataclass(frozen=True, slots=True)
class Publish:
    """Show this conversation's typers (user -> expires_at) in the typing index."""

    conversation_id: int
    typers: Mapping[int, float]


@dataclass(frozen=True, slots=True)
class Replicate:
    """Typing writes made on this node: send them to every other node of the cluster."""

    facts: ConversationReplica


Effect = Replicate | Publish | Push | Answer


# --- rules -------------------------------------------------------------------------------


def apply(
    state: ConversationState, message: ConversationMessage, now: float, timing: Timing
) -> tuple[ConversationState, list[Effect]]:
    """One step: expiry first, then the message's write; push who started or stopped."""
    replica, buckets, down = state.replica, refill(state.buckets, now, timing), state.down
    expired = typing_replica.typers(replica, now, down)  # before the message: expiry only
    delta: ConversationReplica | None = None
    answer: tuple[ReplySlot | None, int, bool] | None = None
    refused: list[Effect] = []
    match message:
        case SetTyping(user_id, is_typing, reply, admitted):
            try:
                if not admitted:
                    buckets = charge(buckets, user_id, now, timing)
            except RateLimited as limited:
                refused.append(Answer(reply, limited))
            else:
                delta = write(state, user_id, is_typing, now, timing)
                answer = (reply, user_id, is_typing)
        case ClearUser(user_id):
            if user_id in expired:
                delta = write(state, user_id, False, now, timing)
        case Merge(facts):
            replica = typing_replica.merge(replica, facts)
        case NodeDown(peer):
            down = down | {peer}
        case NodeUp(peer):
            down = down - {peer}
        case Expire():
            pass
        case _:
            raise TypeError(f"not a conversation message: {message!r}")
    effects: list[Effect] = []
    if delta:
        replica = typing_replica.merge(replica, delta)
        if state.in_cluster:
            effects.append(Replicate(delta))
    keep = None if state.in_cluster else 0.0
    replica = typing_replica.prune(replica, now, timing, keep)
    typers = typing_replica.typers(replica, now, down)
    cid = state.conversation_id
    pushes = [Push(TypingRecord(uid, cid, False)) for uid in state.typers if uid not in expired]
    pushes += [Push(TypingRecord(uid, cid, False)) for uid in expired if uid not in typers]
    pushes += [Push(TypingRecord(uid, cid, True)) for uid in typers if uid not in expired]
    if typers != state.typers:
        effects.append(Publish(cid, typers))
    effects += pushes + refused
    if answer is not None:
        reply, user_id, is_typing = answer
        effects.append(Answer(reply, TypingResult(cid, user_id, is_typing, typers.get(user_id))))
    after = ConversationState(replica, typers, buckets, state.node, down)
    return after, effects


def write(
    state: ConversationState, user_id: int, is_typing: bool, now: float, timing: Timing
) -> ConversationReplica:
    return typing_replica.set_typing(state.replica, state.node, user_id, is_typing, now, timing)


def leave(conversation_id: int, published: Mapping[int, float]) -> list[Effect]:
    """The actor stops for good: every indicator it published ends (pushed false) and its
    index entry is withdrawn. An idle actor published none, so nothing is pushed then."""
    ended: list[Effect] = [Push(TypingRecord(uid, conversation_id, False)) for uid in published]
    return [*ended, Publish(conversation_id, {})]


def refill(buckets: Mapping[int, Bucket], now: float, timing: Timing) -> Mapping[int, Bucket]:
    """Full buckets are forgotten."""
    burst, rate = timing.typing_burst, timing.typing_rate
    full = [uid for uid, bucket in buckets.items() if bucket.full_at(burst, rate) <= now]
    if not full:
        return buckets
    return {uid: b for uid, b in buckets.items() if uid not in full}


def charge(
    buckets: Mapping[int, Bucket], user_id: int, now: float, timing: Timing
) -> Mapping[int, Bucket]:
    """Take one token from the user's bucket, or raise RateLimited and change nothing."""
    bucket = take(buckets.get(user_id), now, timing.typing_burst, timing.typing_rate)
    return {**buckets, user_id: bucket}


def next_deadline(state: ConversationState, timing: Timing) -> float | None:
    """The next typer expiry, bucket refill, or (in a cluster) a stopped typer's write
    forgotten; None when nothing is pending."""
    deadlines = list(state.typers.values())
    burst, rate = timing.typing_burst, timing.typing_rate
    deadlines.extend(bucket.full_at(burst, rate) for bucket in state.buckets.values())
    if state.in_cluster:
        deadlines.extend(f.stamp.time + timing.typing_ttl for f in state.replica.typers.values())
    return min(deadlines) if deadlines else None


def is_idle(state: ConversationState) -> bool:
    return not state.replica and not state.buckets
