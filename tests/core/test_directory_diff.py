"""`directory_diff`: what changed between two snapshots, and what open sockets must hear
(SPEC §4), as plain sync tests."""

from __future__ import annotations

from presence_actors import Directory, DirectoryData, TypingRecord
from presence_actors.directory_diff import (
    Conceal,
    DirectoryDiff,
    EndTyping,
    Expel,
    Membership,
    Reveal,
    ShowTyping,
    diff,
    notices,
)

from .conftest import directory

# 1-2 partners; circle 7 = {3, 4}; conversation 10 = {1, 2, 5}; user 6 alone.
BASE = directory(
    users=range(1, 7),
    partnerships=frozenset({(1, 2)}),
    circles={7: ("club", frozenset({3, 4}))},
    conversations={10: frozenset({1, 2, 5})},
)


def changed(**kwargs) -> Directory:
    fields = {"users": BASE.users, "partnerships": BASE.partnerships,
              "circles": BASE.circles, "conversations": BASE.conversations}
    fields.update(kwargs)
    return Directory(DirectoryData(**fields))


def test_an_unchanged_directory_affects_nobody():
    assert diff(Directory(BASE), Directory(BASE)) == DirectoryDiff(frozenset(), frozenset(), {})


def test_a_new_partnership_affects_both_partners():
    change = diff(Directory(BASE), changed(partnerships=BASE.partnerships | {(3, 6)}))
    assert change.affected == {3, 6}
    assert change.removed == frozenset() and change.conversations == {}


def test_a_new_circle_member_affects_every_member():
    new = changed(circles={7: ("club", frozenset({3, 4, 6}))})
    assert diff(Directory(BASE), new).affected == {3, 4, 6}


def test_renaming_a_circle_affects_nobody():
    new = changed(circles={7: ("book club", frozenset({3, 4}))})
    assert diff(Directory(BASE), new).affected == frozenset()


def test_conversation_changes_name_who_joined_and_who_left():
    new = changed(conversations={10: frozenset({1, 2, 6}), 11: frozenset({3, 4})})
    change = diff(Directory(BASE), new)
    assert change.conversations == {
        10: Membership(joined=frozenset({6}), left=frozenset({5})),
        11: Membership(joined=frozenset({3, 4}), left=frozenset()),
    }
    assert change.affected == {1, 2, 3, 4, 5, 6}


def test_a_removed_user_affects_whoever_saw_them_even_if_memberships_remain():
    # A store without cascading deletes keeps user 3 in circle 7.
    change = diff(Directory(BASE), changed(users={u: f"user {u}" for u in (1, 2, 4, 5, 6)}))
    assert change.removed == {3}
    assert change.affected == {3, 4}


def test_a_user_added_to_existing_memberships_affects_those_members():
    old = Directory(DirectoryData(users={1: "a"}, partnerships=frozenset({(1, 2)})))
    new = Directory(DirectoryData(users={1: "a", 2: "b"}, partnerships=frozenset({(1, 2)})))
    assert diff(old, new).affected == {1, 2}


# --- notices -------------------------------------------------------------------------------


def notices_for(new: Directory, connected, typers=None, old: Directory | None = None):
    old = old or Directory(BASE)
    return notices(diff(old, new), old, new, frozenset(connected), typers or {})


def test_both_sides_of_a_new_relation_are_revealed_to_each_other():
    new = changed(partnerships=BASE.partnerships | {(3, 6)})
    assert notices_for(new, {3, 6}) == [Reveal(3, 6), Reveal(6, 3)]


def test_an_ended_relation_conceals_both_sides():
    new = changed(circles={})
    assert notices_for(new, {3, 4}) == [Conceal(3, 4), Conceal(4, 3)]


def test_only_users_with_an_open_socket_hear_and_only_they_are_computed():
    computed: list[int] = []

    class Counting(Directory):
        def visible(self, user_id: int) -> frozenset[int]:
            computed.append(user_id)
            return super().visible(user_id)

    old = Counting(BASE)
    new = Counting(DirectoryData(users=BASE.users, partnerships=BASE.partnerships,
                                 circles={7: ("club", frozenset({3, 4, 6}))},
                                 conversations=BASE.conversations))
    assert notices(diff(old, new), old, new, frozenset({6}), {}) == [Reveal(6, 3), Reveal(6, 4)]
    assert computed == [6, 6]  # old and new visible sets of the one connected user


def test_a_partner_who_leaves_a_shared_conversation_stays_visible():
    # 2 leaves conversation 10: 5 no longer sees 2, but 1 does (partners).
    new = changed(conversations={10: frozenset({1, 5})})
    assert [n for n in notices_for(new, {1, 2, 5}) if isinstance(n, Conceal)] == \
        [Conceal(2, 5), Conceal(5, 2)]


def test_joining_a_conversation_shows_its_current_typers():
    new = changed(conversations={10: frozenset({1, 2, 5, 6})})
    result = notices_for(new, {6}, typers={10: (2,)})
    assert result == [
        Reveal(6, 1), Reveal(6, 2), Reveal(6, 5), ShowTyping(6, TypingRecord(2, 10, True)),
    ]


def test_leaving_a_conversation_ends_the_typing_of_those_still_visible():
    # 1 leaves conversation 10 while 2 (still a partner) and 5 (now invisible) type.
    new = changed(conversations={10: frozenset({2, 5})})
    result = notices_for(new, {1}, typers={10: (2, 5)})
    assert result == [Conceal(1, 5), ShowTyping(1, TypingRecord(2, 10, False))]


def test_a_typer_who_leaves_has_their_typing_ended_by_the_conversation():
    new = changed(conversations={10: frozenset({1, 5})})
    assert EndTyping(10, 2) in notices_for(new, {1, 5}, typers={10: (2,)})
    assert EndTyping(10, 2) in notices_for(new, set(), typers={10: (2,)})  # nobody connected


def test_a_removed_conversation_ends_its_typers():
    new = changed(conversations={})
    result = notices_for(new, {1}, typers={10: (5,)})
    assert EndTyping(10, 5) in result
    assert ShowTyping(1, TypingRecord(5, 10, False)) not in result  # 5 is concealed from 1


def test_a_removed_user_is_expelled_and_told_nothing():
    new = changed(users={u: f"user {u}" for u in (1, 3, 4, 5, 6)})
    result = notices_for(new, {1, 2})
    assert Expel(2) in result
    assert [n for n in result if getattr(n, "viewer", None) == 2] == []
    assert Conceal(1, 2) in result


def test_an_expelled_user_without_a_socket_is_not_named():
    new = changed(users={u: f"user {u}" for u in (1, 3, 4, 5, 6)})
    assert not [n for n in notices_for(new, {1}) if isinstance(n, Expel)]
