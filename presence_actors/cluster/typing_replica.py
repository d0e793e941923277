"""Who is typing in one conversation, as every node holds it (SPEC §6), and its writes.

One register per typer (`TypingFact`, last writer wins): typing until `expires_at`, or
stopped. Like devices, expiry is read off the fact by every node with its own clock, and
a typer whose last write came from a node that is down stops at once. The token bucket is
not replicated: the cluster-wide limit is an atomic Redis script (`limits.py`), and a
node's own bucket is the fallback when Redis does not answer in time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..timing import Timing
from .stamp import Stamp
from .user_replica import NO_FACTS, NO_NODES, join_registers


@dataclass(frozen=True, slots=True)
class TypingFact:
    stamp: Stamp
    expires_at: float | None  # None: stopped


@dataclass(frozen=True, slots=True)
class ConversationReplica:
    conversation_id: int
    # user_id -> their latest typing write
    typers: Mapping[int, TypingFact] = field(default_factory=lambda: NO_FACTS)

    def __bool__(self) -> bool:
        return bool(self.typers)


def merge(a: ConversationReplica, b: ConversationReplica) -> ConversationReplica:
    """The join of two replicas of one conversation.

    Raises:
        ValueError: the replicas are of different conversations.
    """
    if a.conversation_id != b.conversation_id:
        raise ValueError(f"cannot merge conversation {a.conversation_id} with {b.conversation_id}")
    if not b.typers:
        return a
    return ConversationReplica(a.conversation_id, join_registers(a.typers, b.typers))


def typers(
    replica: ConversationReplica, now: float, down: frozenset[str] = NO_NODES
) -> dict[int, float]:
    """user_id -> expires_at of everyone typing now (what `conversation_rules` calls typers)."""
    return {
        user_id: fact.expires_at
        for user_id, fact in replica.typers.items()
        if fact.expires_at is not None and fact.expires_at > now and fact.stamp.node not in down
    }


def set_typing(
    replica: ConversationReplica,
    node: str,
    user_id: int,
    is_typing: bool,
    now: float,
    timing: Timing,
) -> ConversationReplica:
    """A typing start (until now + TTL; a refresh extends it) or stop, as a delta."""
    fact = replica.typers.get(user_id)
    stamp = Stamp.after(fact.stamp if fact else None, now, node)
    expires_at = now + timing.typing_ttl if is_typing else None
    return ConversationReplica(replica.conversation_id, {user_id: TypingFact(stamp, expires_at)})


def next_deadline(
    replica: ConversationReplica, now: float, down: frozenset[str] = NO_NODES
) -> float | None:
    deadlines = typers(replica, now, down).values()
    return min(deadlines) if deadlines else None


def prune(
    replica: ConversationReplica, now: float, timing: Timing, keep: float | None = None
) -> ConversationReplica:
    """Forget typers that stopped or expired long enough ago (`keep`, default the typing
    TTL) that no older write they replaced can still be typing (an older write expired
    before this one did). A cluster of one receives no late copies: `keep=0`."""
    keep = timing.typing_ttl if keep is None else keep
    kept = {
        user_id: fact
        for user_id, fact in replica.typers.items()
        if fact.stamp.time + keep > now
        or (fact.expires_at is not None and fact.expires_at > now)
    }
    if len(kept) == len(replica.typers):
        return replica
    return ConversationReplica(replica.conversation_id, kept or NO_FACTS)


def own_facts(replica: ConversationReplica, node: str) -> ConversationReplica:
    typers_ = {u: f for u, f in replica.typers.items() if f.stamp.node == node}
    return ConversationReplica(replica.conversation_id, typers_ or NO_FACTS)
