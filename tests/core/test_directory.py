"""SPEC §4 visibility: self, partners, a shared circle or a shared conversation; symmetric."""

from __future__ import annotations

import itertools

from presence_actors.directory import Directory
from presence_actors.ports import DirectoryData

# 1-2 partners; 3 and 4 share circle 7; 4 and 5 share conversation 10; 6 knows nobody;
# 1 is partnered with 99, who is not a user.
DATA = DirectoryData(
    users={uid: f"user {uid}" for uid in range(1, 7)},
    partnerships=frozenset({(1, 2), (1, 99)}),
    circles={7: ("Book club", frozenset({3, 4}))},
    conversations={10: frozenset({4, 5}), 11: frozenset({5})},
)


def directory() -> Directory:
    return Directory(DATA)


def test_a_user_sees_themselves():
    assert directory().can_see(6, 6)


def test_partners_see_each_other():
    assert directory().can_see(1, 2)
    assert directory().can_see(2, 1)


def test_a_partnership_listed_high_first_still_counts():
    data = DirectoryData(users={1: "a", 2: "b"}, partnerships=frozenset({(2, 1)}))
    assert Directory(data).can_see(1, 2)


def test_circle_members_see_each_other():
    assert directory().can_see(3, 4)


def test_conversation_participants_see_each_other():
    assert directory().can_see(5, 4)


def test_visibility_is_not_transitive():
    # 3 sees 4 (circle) and 4 sees 5 (conversation), but 3 and 5 share nothing.
    assert not directory().can_see(3, 5)


def test_visible_set_is_exactly_self_and_relations():
    assert directory().visible(4) == {3, 4, 5}


def test_a_user_with_no_relations_sees_only_themselves():
    assert directory().visible(6) == {6}


def test_an_unknown_user_sees_nobody():
    assert directory().visible(99) == frozenset()
    assert not directory().can_see(99, 99)


def test_an_unknown_user_is_seen_by_nobody_even_a_partner():
    assert directory().visible(1) == {1, 2}


def test_visibility_is_symmetric():
    d = directory()
    for a, b in itertools.product(range(0, 8), [*range(0, 8), 99]):
        assert d.can_see(a, b) == d.can_see(b, a), (a, b)


def test_visible_is_stable_across_calls():
    d = directory()
    assert d.visible(4) == d.visible(4) == {3, 4, 5}


def test_empty_directory_sees_nothing():
    assert Directory.empty().visible(1) == frozenset()


def test_exists_only_for_directory_users():
    assert directory().exists(6)
    assert not directory().exists(99)


def test_participants_of_a_conversation():
    assert directory().participants(10) == {4, 5}


def test_participants_of_an_unknown_conversation_is_empty():
    assert directory().participants(12) == frozenset()


def test_is_participant():
    assert directory().is_participant(4, 10)
    assert not directory().is_participant(3, 10)


def test_conversations_of_a_user():
    assert directory().conversations_of(5) == {10, 11}
    assert directory().conversations_of(3) == frozenset()
