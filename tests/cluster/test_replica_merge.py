"""The replicas are a join semilattice: any order, grouping or repetition of merges gives
the same replica, so nodes that got the same writes hold the same state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from presence_actors.cluster import (
    ConversationReplica,
    DeviceFact,
    Facts,
    SocketFact,
    Stamp,
    UserReplica,
    merge_facts,
    typing_replica,
    user_replica,
)
from presence_actors.model import PresenceStatus

from .strategies import T0, conversation_replicas, fact_batches, user_replicas

MERGES = settings(max_examples=300, deadline=None)
merge = user_replica.merge


@MERGES
@given(user_replicas(), user_replicas())
def test_user_merge_is_commutative(a, b):
    assert merge(a, b) == merge(b, a)


@MERGES
@given(user_replicas(), user_replicas(), user_replicas())
def test_user_merge_is_associative(a, b, c):
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@MERGES
@given(user_replicas(), user_replicas())
def test_user_merge_is_idempotent(a, b):
    merged = merge(a, b)
    assert merge(merged, a) == merged
    assert merge(merged, merged) == merged


@MERGES
@given(conversation_replicas(), conversation_replicas(), conversation_replicas())
def test_conversation_merge_is_a_join(a, b, c):
    join = typing_replica.merge
    assert join(a, b) == join(b, a)
    assert join(join(a, b), c) == join(a, join(b, c))
    assert join(join(a, b), a) == join(a, b)


@MERGES
@given(fact_batches(), fact_batches(), fact_batches())
def test_batches_merge_like_their_replicas(a, b, c):
    assert merge_facts(a, b) == merge_facts(b, a)
    assert merge_facts(merge_facts(a, b), c) == merge_facts(a, merge_facts(b, c))
    assert merge_facts(merge_facts(a, b), b) == merge_facts(a, b)


def test_the_later_stamp_wins_whatever_the_clock_says():
    old = DeviceFact(Stamp(T0 + 10, 0, "b"), PresenceStatus.ONLINE, T0, T0 + 60, T0)
    # Node a's clock is 8 s behind node b's, but it saw b's write: its stamp is later.
    stamp = Stamp.after(old.stamp, T0 + 2, "a")
    assert stamp > old.stamp
    new = DeviceFact(stamp, PresenceStatus.OFFLINE, T0 + 2, T0 + 2, T0 + 2)
    a = UserReplica(1, {"phone": old})
    assert merge(a, UserReplica(1, {"phone": new})).devices["phone"] is new
    assert merge(UserReplica(1, {"phone": new}), a).devices["phone"] is new


def test_last_seen_is_the_latest_activity_from_any_write_even_a_losing_one():
    winner = DeviceFact(Stamp(T0 + 5, 0, "a"), PresenceStatus.AWAY, T0 + 5, T0 + 605, T0 + 5)
    a = UserReplica(1, {"phone": winner}, last_seen=T0 + 5)
    b = UserReplica(1, {}, last_seen=T0 + 9)
    assert merge(a, b).last_seen == T0 + 9
    assert merge(a, UserReplica(1)).last_seen == T0 + 5


def test_merging_different_users_is_a_bug():
    with pytest.raises(ValueError):
        merge(UserReplica(1), UserReplica(2))
    with pytest.raises(ValueError):
        typing_replica.merge(ConversationReplica(1), ConversationReplica(2))


def test_a_snapshot_closes_sockets_it_does_not_restate():
    held = SocketFact(Stamp(T0, 0, "b"), 2)
    mine = SocketFact(Stamp(T0, 0, "a"), 1)
    replica = UserReplica(1, sockets={("phone", "b"): held, ("phone", "a"): mine})
    restated = user_replica.restate(replica, "b", UserReplica(1))
    assert restated.sockets == {("phone", "a"): mine}  # b's count is gone, a's untouched
    again = user_replica.restate(
        replica, "b", UserReplica(1, sockets={("laptop", "b"): SocketFact(Stamp(T0, 1, "b"), 1)})
    )
    assert set(again.sockets) == {("phone", "a"), ("laptop", "b")}


def test_empty_batches():
    assert not Facts()
    assert merge_facts(Facts(), Facts()) == Facts()
