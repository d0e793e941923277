"""Visibility and participation (SPEC §4) over one immutable directory snapshot.

A sees B iff A = B, they are partners, share a social circle, or share a conversation.
The relation is symmetric, which fan-out relies on: the users who may receive B's
presence are exactly the users B can see. Visible sets are computed on first use and
cached on the snapshot; a new snapshot (a refresh) starts with an empty cache.
"""

from __future__ import annotations

from collections import defaultdict

from .ports import DirectoryData

_EMPTY: frozenset[int] = frozenset()


class Directory:
    """An immutable directory snapshot with cached visibility."""

    def __init__(self, data: DirectoryData) -> None:
        self.data = data
        partners: dict[int, set[int]] = defaultdict(set)
        for a, b in data.partnerships:
            partners[a].add(b)
            partners[b].add(a)
        groups: dict[int, list[frozenset[int]]] = defaultdict(list)
        for _name, members in data.circles.values():
            for uid in members:
                groups[uid].append(members)
        conversations: dict[int, list[int]] = defaultdict(list)
        for cid, participants in data.conversations.items():
            for uid in participants:
                groups[uid].append(participants)
                conversations[uid].append(cid)
        self._partners = partners
        self._groups = groups
        self._conversations = {uid: frozenset(cids) for uid, cids in conversations.items()}
        self._visible: dict[int, frozenset[int]] = {}

    @classmethod
    def empty(cls) -> Directory:
        return cls(DirectoryData())

    def exists(self, user_id: int) -> bool:
        return user_id in self.data.users

    def visible(self, user_id: int) -> frozenset[int]:
        """Every user `user_id` can see (self included when the user exists)."""
        cached = self._visible.get(user_id)
        if cached is not None:
            return cached
        if user_id not in self.data.users:
            return _EMPTY
        seen = {user_id, *self._partners.get(user_id, ())}
        for members in self._groups.get(user_id, ()):
            seen.update(members)
        users = self.data.users
        result = frozenset(uid for uid in seen if uid in users)
        self._visible[user_id] = result
        return result

    def can_see(self, viewer: int, target: int) -> bool:
        return target in self.visible(viewer)

    def participants(self, conversation_id: int) -> frozenset[int]:
        return self.data.conversations.get(conversation_id, _EMPTY)

    def conversations_of(self, user_id: int) -> frozenset[int]:
        return self._conversations.get(user_id, _EMPTY)

    def is_participant(self, user_id: int, conversation_id: int) -> bool:
        return user_id in self.participants(conversation_id)
