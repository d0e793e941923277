"""Who is typing where, as conversation actors publish it (their `Publish` effect).

Reads (`is_typing` in presence, the `typing` list of `initial_state`) come from here
without a round trip to each conversation actor; a fresh conversation actor (the first, or
one started after its predecessor was given up) rebuilds its typers, expiries included,
from here, so a crash never leaves a stuck indicator.
"""

from __future__ import annotations

from collections.abc import Mapping

_NONE: Mapping[int, float] = {}


class TypingIndex:
    def __init__(self) -> None:
        self._by_conversation: dict[int, Mapping[int, float]] = {}
        self._by_user: dict[int, set[int]] = {}

    def publish(self, conversation_id: int, typers: Mapping[int, float]) -> None:
        """Record a conversation's typers (user -> expires_at); empty withdraws it."""
        before = self._by_conversation.get(conversation_id, _NONE)
        if before is typers:
            return
        for uid in before.keys() - typers.keys():
            conversations = self._by_user[uid]
            conversations.discard(conversation_id)
            if not conversations:
                del self._by_user[uid]
        for uid in typers.keys() - before.keys():
            self._by_user.setdefault(uid, set()).add(conversation_id)
        if typers:
            self._by_conversation[conversation_id] = typers
        else:
            self._by_conversation.pop(conversation_id, None)

    def typers(self, conversation_id: int) -> Mapping[int, float]:
        return self._by_conversation.get(conversation_id, _NONE)

    def typing_in(self, user_id: int) -> frozenset[int]:
        return frozenset(self._by_user.get(user_id, ()))

    def is_typing_in_any(self, user_id: int, conversations: frozenset[int]) -> bool:
        typing_in = self._by_user.get(user_id)
        return bool(typing_in) and not typing_in.isdisjoint(conversations)
