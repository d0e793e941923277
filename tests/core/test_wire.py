"""The seed's WebSocket frames (SPEC §8), serialized once per change."""

from __future__ import annotations

import orjson

from presence_actors.model import PresenceRecord, PresenceStatus, PresenceView, TypingRecord
from presence_actors.wire import initial_state_frame, presence_update_frame, typing_update_frame

NOON = 1_704_110_400.0  # 2024-01-01T12:00:00Z, the seed's example time


def test_presence_update_frame_is_the_seed_message():
    frame = presence_update_frame(PresenceRecord(1, PresenceStatus.AWAY, NOON))
    assert orjson.loads(frame) == {
        "type": "presence_update",
        "data": {"user_id": 1, "status": "away", "last_seen": "2024-01-01T12:00:00Z"},
    }


def test_presence_update_frame_of_a_user_never_seen_has_null_last_seen():
    frame = presence_update_frame(PresenceRecord(3, PresenceStatus.OFFLINE, None))
    assert orjson.loads(frame)["data"] == {"user_id": 3, "status": "offline", "last_seen": None}


def test_typing_update_frame_is_the_seed_message():
    frame = typing_update_frame(TypingRecord(1, 123, True))
    assert orjson.loads(frame) == {
        "type": "typing_update",
        "data": {"user_id": 1, "conversation_id": 123, "is_typing": True},
    }


def test_initial_state_frame_holds_presences_in_the_get_shape_and_typers():
    presences = [
        PresenceView(PresenceRecord(1, PresenceStatus.ONLINE, NOON), is_typing=True),
        PresenceView(PresenceRecord(2, PresenceStatus.OFFLINE, None), is_typing=False),
    ]
    typing = [TypingRecord(1, 123, True)]
    frame = initial_state_frame(presences, typing)
    assert orjson.loads(frame) == {
        "type": "initial_state",
        "data": {
            "presences": [
                {
                    "user_id": 1,
                    "status": "online",
                    "last_seen": "2024-01-01T12:00:00Z",
                    "is_typing": True,
                },
                {"user_id": 2, "status": "offline", "last_seen": None, "is_typing": False},
            ],
            "typing": [{"user_id": 1, "conversation_id": 123, "is_typing": True}],
        },
    }


def test_initial_state_frame_of_nobody_has_empty_lists():
    frame = initial_state_frame([], [])
    assert orjson.loads(frame) == {"type": "initial_state", "data": {"presences": [], "typing": []}}
