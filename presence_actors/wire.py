"""The WebSocket wire frames of the seed document, serialized once per change.

The core builds the frames (not `web/`) on purpose: a change is encoded once in the actor
and the same bytes go to every recipient's outbox, however many sockets see it.
"""

from __future__ import annotations

import orjson

from .model import PresenceRecord, TypingRecord


def presence_update_frame(record: PresenceRecord) -> bytes:
    """The seed's `presence_update` message, serialized once per change."""
    return orjson.dumps({"type": "presence_update", "data": record.as_json()})


def typing_update_frame(record: TypingRecord) -> bytes:
    """The seed's `typing_update` message, serialized once per change."""
    return orjson.dumps({"type": "typing_update", "data": record.as_json()})


def initial_state_frame(
    presences: list[PresenceRecord], typing: list[TypingRecord], typing_users: frozenset[int]
) -> bytes:
    """The seed's `initial_state`: presences in the GET shape (with `is_typing`) plus typers."""
    return orjson.dumps(
        {
            "type": "initial_state",
            "data": {
                "presences": [
                    {**p.as_json(), "is_typing": p.user_id in typing_users} for p in presences
                ],
                "typing": [t.as_json() for t in typing],
            },
        }
    )
