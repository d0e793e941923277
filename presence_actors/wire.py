"""The WebSocket wire frames of the seed document, serialized once per change.

The core builds the frames (not `web/`) on purpose: a change is encoded once in the actor
and the same bytes go to every recipient's outbox, however many sockets see it.
"""

from __future__ import annotations

import orjson

from .model import PresenceRecord, PresenceView, TypingRecord


def presence_update_frame(record: PresenceRecord) -> bytes:
    """The seed's `presence_update` message, serialized once per change."""
    return orjson.dumps({"type": "presence_update", "data": record.as_json()})


def presence_removed_frame(user_id: int) -> bytes:
    """`presence_removed` (SPEC §4): the user is no longer visible; nothing more about them
    follows. Clients ignore frame types they do not know."""
    return orjson.dumps({"type": "presence_removed", "data": {"user_id": user_id}})


def typing_update_frame(record: TypingRecord) -> bytes:
    """The seed's `typing_update` message, serialized once per change."""
    return orjson.dumps({"type": "typing_update", "data": record.as_json()})


def initial_state_frame(presences: list[PresenceView], typing: list[TypingRecord]) -> bytes:
    """The seed's `initial_state`: presences in the GET shape, then the current typers."""
    return orjson.dumps(
        {
            "type": "initial_state",
            "data": {
                "presences": [view.as_json() for view in presences],
                "typing": [record.as_json() for record in typing],
            },
        }
    )
