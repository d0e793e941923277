"""One writer per user: the same on every node, spread evenly, and stable when nodes come
and go (only the users of the node that left move)."""

from __future__ import annotations

from collections import Counter

import pytest

from presence_actors.cluster.ownership import owner_of

USERS = range(1, 30_001)


def test_every_node_picks_the_same_owner_whatever_the_order():
    assert owner_of(42, ["a", "b", "c"]) == owner_of(42, ["c", "a", "b"]) == owner_of(42, "bca")


def test_owners_are_spread_evenly():
    counts = Counter(owner_of(u, ["a", "b", "c"]) for u in USERS)
    assert all(abs(n - len(USERS) / 3) < len(USERS) * 0.02 for n in counts.values())


def test_a_node_leaving_moves_only_its_own_users():
    before = {u: owner_of(u, ["a", "b", "c"]) for u in USERS}
    after = {u: owner_of(u, ["a", "b"]) for u in USERS}
    moved = {u for u in USERS if before[u] != after[u]}
    assert moved == {u for u in USERS if before[u] == "c"}


def test_a_node_joining_takes_only_the_users_it_now_ranks_first_for():
    before = {u: owner_of(u, ["a", "b"]) for u in USERS}
    after = {u: owner_of(u, ["a", "b", "d"]) for u in USERS}
    assert all(after[u] in (before[u], "d") for u in USERS)


def test_no_node_is_a_bug():
    with pytest.raises(ValueError):
        owner_of(1, [])


def test_the_cached_owner_is_the_owner_and_follows_the_live_nodes():
    from presence_actors.cluster import cached_owner_of

    nodes = frozenset({"a", "b", "c"})
    for user_id in range(200):
        assert cached_owner_of(user_id, nodes) == owner_of(user_id, nodes)
    fewer = nodes - {owner_of(7, nodes)}
    assert cached_owner_of(7, fewer) == owner_of(7, fewer) != owner_of(7, nodes)
