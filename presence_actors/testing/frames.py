"""The frames a subscriber receives (SPEC §4, §8, the seed), as a test expects them.

Written from the spec, not from the service's own `presence_actors.wire`: an expectation
built by the code under test could never disagree with it.

    assert socket.take() == [presence_update(1, "away", presence.timestamp(0))]
"""

from __future__ import annotations


def presence_update(user_id: int, status: str, last_seen: str | None) -> dict:
    """`presence_update`: `last_seen` in the wire form (`PresenceKit.timestamp(...)`)."""
    return {"type": "presence_update",
            "data": {"user_id": user_id, "status": str(status), "last_seen": last_seen}}


def typing_update(user_id: int, conversation_id: int, is_typing: bool) -> dict:
    return {"type": "typing_update",
            "data": {"user_id": user_id, "conversation_id": conversation_id,
                     "is_typing": is_typing}}


def presence_removed(user_id: int) -> dict:
    """Sent when `user_id` stops being visible to the subscriber (SPEC §4)."""
    return {"type": "presence_removed", "data": {"user_id": user_id}}


def pong() -> dict:
    return {"type": "pong"}


def error(code: str, detail: str) -> dict:
    """The answer to a refused client frame: `invalid_frame`, `rate_limited`,
    `not_found` or `unavailable`, with its human-readable detail."""
    return {"type": "error", "data": {"code": code, "detail": detail}}
