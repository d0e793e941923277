"""The wire vocabulary: time format (SPEC §7) and the seed's frame shapes (SPEC §8)."""

from __future__ import annotations

import orjson

from presence_actors.model import (
    PresenceRecord,
    PresenceStatus,
    TypingRecord,
    format_time,
    parse_time,
)
from presence_actors.wire import initial_state_frame, presence_update_frame, typing_update_frame

NOON = 1_704_110_400.0  # 2024-01-01T12:00:00Z, the seed's example time


def test_status_values_are_the_seed_enum():
    assert [status.value for status in PresenceStatus] == ["online", "away", "offline"]


def test_rank_orders_online_over_away_over_offline():
    online, away, offline = PresenceStatus
    assert online.rank > away.rank > offline.rank


def test_format_time_is_iso_8601_utc_with_z_suffix():
    assert format_time(NOON) == "2024-01-01T12:00:00Z"


def test_format_time_drops_fractional_seconds():
    assert format_time(NOON + 0.25) == "2024-01-01T12:00:00Z"


def test_format_time_floors_rather_than_rounds():
    assert format_time(NOON + 59.999) == "2024-01-01T12:00:59Z"


def test_format_time_of_the_epoch():
    assert format_time(0.0) == "1970-01-01T00:00:00Z"


def test_format_time_of_none_is_none():
    assert format_time(None) is None


def test_parse_time_reads_the_z_form():
    assert parse_time("2024-01-01T12:00:00Z") == NOON


def test_parse_time_reads_an_explicit_offset():
    assert parse_time("2024-01-01T13:30:00+01:30") == NOON


def test_parse_time_inverts_format_time_for_whole_seconds():
    assert parse_time(format_time(NOON + 86_399)) == NOON + 86_399


def test_presence_record_json_is_the_seed_presence_object():
    record = PresenceRecord(1, PresenceStatus.ONLINE, NOON + 0.7)
    assert record.as_json() == {
        "user_id": 1,
        "status": "online",
        "last_seen": "2024-01-01T12:00:00Z",
    }


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
        PresenceRecord(1, PresenceStatus.ONLINE, NOON),
        PresenceRecord(2, PresenceStatus.OFFLINE, None),
    ]
    typing = [TypingRecord(1, 123, True)]
    frame = initial_state_frame(presences, typing, frozenset({1}))
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
    frame = initial_state_frame([], [], frozenset())
    assert orjson.loads(frame) == {"type": "initial_state", "data": {"presences": [], "typing": []}}
