"""The local view as pure rules: every frame type, resync diffs, unknown frames, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from presence_client import (
    FrameError,
    PresenceChanged,
    PresenceRemoved,
    PresenceStatus,
    TypingChanged,
    UserPresence,
    ViewSynced,
    parse_datetime,
)
from presence_client.view import LocalView
from presence_client.view_rules import ViewState, apply_frame, clear

NOON = "2024-01-01T12:00:00Z"


def initial(presences, typing=()):
    return {"type": "initial_state", "data": {"presences": list(presences),
                                              "typing": list(typing)}}


def presence(user_id, status="online", last_seen=NOON, **extra):
    return {"user_id": user_id, "status": status, "last_seen": last_seen, **extra}


def typing(user_id, conversation_id, is_typing=True):
    return {"user_id": user_id, "conversation_id": conversation_id, "is_typing": is_typing}


def run(*frames, state=None):
    state, events = state or ViewState(), []
    for frame in frames:
        state, new = apply_frame(state, frame)
        events.extend(new)
    return state, events


def test_dates_are_parsed_from_the_z_form():
    assert parse_datetime(NOON) == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert parse_datetime("2024-01-01T13:00:00+01:00") == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert parse_datetime(None) is None
    for bad in ("2024-01-01T12:00:00", "yesterday", 5):
        with pytest.raises(FrameError):
            parse_datetime(bad)


def test_initial_state_fills_the_view():
    state, events = run(initial([presence(1), presence(2, "away", None)], [typing(2, 10)]))
    assert state.presences[1] == UserPresence(1, PresenceStatus.ONLINE,
                                              datetime(2024, 1, 1, 12, tzinfo=UTC), False)
    assert state.presences[2].last_seen is None and state.presences[2].is_typing
    assert events[0] == TypingChanged(2, 10, True)
    assert [type(e) for e in events[1:]] == [PresenceChanged, PresenceChanged, ViewSynced]
    assert events[-1] == ViewSynced(2)


def test_presence_update_changes_one_user_and_reports_the_previous():
    state, _ = run(initial([presence(1), presence(2)]))
    state, events = run({"type": "presence_update", "data": presence(2, "away")}, state=state)
    assert state.presences[2].status is PresenceStatus.AWAY
    assert events == [PresenceChanged(state.presences[2], UserPresence(
        2, PresenceStatus.ONLINE, parse_datetime(NOON)))]


def test_an_unchanged_update_reports_nothing():
    state, _ = run(initial([presence(1)]))
    assert run({"type": "presence_update", "data": presence(1)}, state=state)[1] == []


def test_typing_update_sets_is_typing_until_the_last_conversation_stops():
    state, _ = run(initial([presence(2)]))
    state, events = run({"type": "typing_update", "data": typing(2, 10)},
                        {"type": "typing_update", "data": typing(2, 11)}, state=state)
    assert state.presences[2].is_typing
    assert events[0] == TypingChanged(2, 10, True) and events[2] == TypingChanged(2, 11, True)
    state, events = run({"type": "typing_update", "data": typing(2, 10, False)}, state=state)
    assert state.presences[2].is_typing and events == [TypingChanged(2, 10, False)]
    state, events = run({"type": "typing_update", "data": typing(2, 11, False)}, state=state)
    assert not state.presences[2].is_typing
    assert events[0] == TypingChanged(2, 11, False) and isinstance(events[1], PresenceChanged)


def test_presence_removed_forgets_the_user_and_their_typing():
    state, _ = run(initial([presence(1), presence(2)], [typing(2, 10)]))
    state, events = run({"type": "presence_removed", "data": {"user_id": 2}}, state=state)
    assert set(state.presences) == {1} and state.typing == frozenset()
    assert events == [TypingChanged(2, 10, False), PresenceRemoved(2)]


def test_a_resync_reports_only_what_changed_while_away():
    state, _ = run(initial([presence(1), presence(2), presence(3)], [typing(3, 10)]))
    state, events = run(initial([presence(1), presence(2, "offline"), presence(4)]),
                        state=state)
    assert [type(e).__name__ for e in events] == [
        "TypingChanged", "PresenceRemoved", "PresenceChanged", "PresenceChanged", "ViewSynced"]
    assert events[1] == PresenceRemoved(3)
    assert [e.presence.user_id for e in events if isinstance(e, PresenceChanged)] == [2, 4]


def test_unknown_frame_types_are_ignored():
    state, _ = run(initial([presence(1)]))
    for frame in ({"type": "pong"}, {"type": "error", "data": {"code": "x", "detail": "y"}},
                  {"type": "something_new", "data": [1, 2]}):
        assert apply_frame(state, frame) == (state, [])


@pytest.mark.parametrize("frame", [
    [], "text", {"type": "initial_state", "data": {}},
    {"type": "presence_update", "data": {"user_id": "1", "status": "online"}},
    {"type": "presence_update", "data": {"user_id": 1, "status": "busy"}},
    {"type": "typing_update", "data": {"user_id": 1, "conversation_id": 10}},
    {"type": "presence_removed", "data": {"user_id": True}},
])
def test_a_malformed_known_frame_is_an_error_and_changes_nothing(frame):
    with pytest.raises(FrameError):
        apply_frame(ViewState(), frame)


def test_clear_removes_everyone():
    state, _ = run(initial([presence(1), presence(2)], [typing(2, 10)]))
    state, events = clear(state)
    assert not state.presences and not state.typing
    assert events == [TypingChanged(2, 10, False), PresenceRemoved(1), PresenceRemoved(2)]


async def test_callbacks_and_streams_see_every_event_in_order(autojump_clock):
    view, seen = LocalView(), []
    unsubscribe = view.on_change(seen.append)
    view.on_change(lambda event: 1 / 0)  # a broken observer does not stop the others
    with view.open_events() as stream:
        view.apply(initial([presence(1)]))
        view.apply({"type": "presence_update", "data": presence(1, "away")})
        streamed = [await stream.__anext__() for _ in range(3)]
    assert streamed == seen and len(seen) == 3
    unsubscribe()
    view.apply({"type": "presence_removed", "data": {"user_id": 1}})
    assert len(seen) == 3 and view.presences == {}
    with view.open_events() as stream:
        pass
    assert [event async for event in stream] == []
