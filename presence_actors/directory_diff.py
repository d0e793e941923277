"""What open sockets must hear when the directory changes (SPEC §4), as pure functions.

`diff(old, new)` compares two snapshots' data and names what changed: the users removed,
the users whose visible set may have changed, and who joined or left each conversation
whose participants changed. `notices(...)` turns that into effects for the users who
have a socket open, and only for them: a change costs its size, not the directory's.

- B becomes visible to A: `Reveal(A, B)` (B's `presence_update` to A's sockets);
- B stops being visible to A: `Conceal(A, B)` (`presence_removed`; nothing more about B);
- A joins a conversation where T types: `ShowTyping(A, T typing)`; A leaves one where T,
  still visible to A, types: `ShowTyping(A, T not typing)` (if A no longer sees T at
  all, `Conceal` says it: a client forgets a removed user's typing with them);
- T leaves a conversation while typing there: `EndTyping(conversation, T)` (the
  conversation actor ends it and tells the participants who remain);
- B is removed from the directory: `Expel(B)` (their open sockets are closed).

Visibility is symmetric, so both sides of a new or ended relation are affected users and
each hears of the other. No trio, no I/O: snapshots, sets and mappings in, effects out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from .directory import Directory
from .model import TypingRecord

_NONE: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Membership:
    """Who joined and who left one conversation."""

    joined: frozenset[int]
    left: frozenset[int]


@dataclass(frozen=True, slots=True)
class DirectoryDiff:
    removed: frozenset[int]  # users no longer in the directory
    affected: frozenset[int]  # users whose visible set may have changed
    conversations: Mapping[int, Membership] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reveal:
    viewer: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Conceal:
    viewer: int
    user_id: int


@dataclass(frozen=True, slots=True)
class ShowTyping:
    viewer: int
    record: TypingRecord


@dataclass(frozen=True, slots=True)
class EndTyping:
    conversation_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Expel:
    user_id: int


Notice = Reveal | Conceal | ShowTyping | EndTyping | Expel


def diff(old: Directory, new: Directory) -> DirectoryDiff:
    """What changed between two snapshots, from their data (set operations, no visible
    sets): the endpoints of changed partnerships, every member before and after of a
    changed circle or conversation, and users added or removed with whoever saw them."""
    before, after = old.data, new.data
    removed = frozenset(before.users.keys() - after.users.keys())
    added = after.users.keys() - before.users.keys()
    affected: set[int] = {*removed, *added}
    for pair in before.partnerships ^ after.partnerships:
        affected.update(pair)
    for members in _changed_groups(_circles(before.circles), _circles(after.circles)):
        affected.update(members)
    conversations: dict[int, Membership] = {}
    for cid in _changed_keys(before.conversations, after.conversations):
        was, now = before.conversations.get(cid, _NONE), after.conversations.get(cid, _NONE)
        affected.update(was | now)
        conversations[cid] = Membership(now - was, was - now)
    for uid in removed:  # a store that keeps a removed user's memberships
        affected.update(old.visible(uid))
    for uid in added:  # a user added to memberships that were already there
        affected.update(new.visible(uid))
    return DirectoryDiff(removed, frozenset(affected), conversations)


def notices(
    change: DirectoryDiff,
    old: Directory,
    new: Directory,
    connected: Collection[int],
    typers: Mapping[int, Collection[int]],
) -> list[Notice]:
    """The effects of `change` for the `connected` users (those with an open socket);
    `typers`: who types in each conversation of `change.conversations`."""
    effects: list[Notice] = []
    for viewer in sorted(change.affected):
        if viewer not in connected or viewer in change.removed:
            continue
        was, now = old.visible(viewer), new.visible(viewer)
        effects += [Conceal(viewer, uid) for uid in sorted(was - now)]
        effects += [Reveal(viewer, uid) for uid in sorted(now - was)]
    for cid, membership in sorted(change.conversations.items()):
        effects += _typing_notices(cid, membership, new, connected, typers.get(cid, ()))
    effects += [Expel(uid) for uid in sorted(change.removed) if uid in connected]
    return effects


def _typing_notices(
    cid: int, membership: Membership, new: Directory, connected: Collection[int],
    typers: Collection[int],
) -> list[Notice]:
    effects: list[Notice] = []
    for typer in sorted(typers):
        stays = typer not in membership.left
        if stays:
            record = TypingRecord(typer, cid, True)
            effects += [ShowTyping(v, record) for v in sorted(membership.joined)
                        if v != typer and v in connected]
        else:
            effects.append(EndTyping(cid, typer))
        record = TypingRecord(typer, cid, False)
        effects += [ShowTyping(v, record) for v in sorted(membership.left)
                    if v != typer and v in connected and new.can_see(v, typer)]
    return effects


def _circles(circles: Mapping[int, tuple[str, frozenset[int]]]) -> dict[int, frozenset[int]]:
    return {cid: members for cid, (_name, members) in circles.items()}


def _changed_keys(before: Mapping, after: Mapping) -> Iterable:
    """Keys whose value differs, added and removed ones included (a circle renamed is not)."""
    return {key for key, _ in before.items() ^ after.items()}


def _changed_groups(
    before: Mapping[int, frozenset[int]], after: Mapping[int, frozenset[int]]
) -> Iterable[frozenset[int]]:
    for key in _changed_keys(before, after):
        yield before.get(key, _NONE) | after.get(key, _NONE)
