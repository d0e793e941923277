"""The domain vocabulary: statuses, the time format (SPEC §7) and the JSON of records and views."""

from __future__ import annotations

from presence_actors.model import (
    PresenceRecord,
    PresenceStatus,
    PresenceView,
    TypingRecord,
    format_time,
    parse_time,
)

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


def test_presence_view_json_is_the_get_shape():
    view = PresenceView(PresenceRecord(1, PresenceStatus.AWAY, NOON + 0.7), is_typing=True)
    assert view.as_json() == {
        "user_id": 1,
        "status": "away",
        "last_seen": "2024-01-01T12:00:00Z",
        "is_typing": True,
    }


def test_presence_view_reads_like_its_record():
    record = PresenceRecord(3, PresenceStatus.OFFLINE, None)
    view = PresenceView(record, is_typing=False)
    assert (view.user_id, view.status, view.last_seen) == (3, PresenceStatus.OFFLINE, None)


def test_typing_record_json_is_the_seed_typing_object():
    assert TypingRecord(1, 123, False).as_json() == {
        "user_id": 1,
        "conversation_id": 123,
        "is_typing": False,
    }
