"""The local view as a pure function of the push frames: state + frame → state + events.

The view holds every visible user's presence and who types in which conversation.
`initial_state` replaces the view and reports only the differences, so a client that
reconnects (SPEC §8: the server keeps nothing a reconnect needs) tells its observers what
changed while it was away, not the whole world again. `UserPresence.is_typing` follows
the typing set: true while the user types in any conversation the view knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .models import (
    FrameError,
    PresenceChanged,
    PresenceEvent,
    PresenceRemoved,
    TypingChanged,
    UserPresence,
    ViewSynced,
)

TypingKey = tuple[int, int]  # (user_id, conversation_id)


@dataclass(frozen=True)
class ViewState:
    presences: Mapping[int, UserPresence] = field(default_factory=lambda: MappingProxyType({}))
    typing: frozenset[TypingKey] = frozenset()


def apply_frame(state: ViewState, message: object) -> tuple[ViewState, list[PresenceEvent]]:
    """Apply one server frame. Unknown frame types change nothing (SPEC §4).

    Raises:
        FrameError: a known frame type whose data has the wrong shape.
    """
    if not isinstance(message, dict):
        raise FrameError(f"expected a JSON object, got {message!r}")
    kind, data = message.get("type"), message.get("data")
    if kind == "initial_state":
        return _initial_state(state, data)
    if kind == "presence_update":
        return _replace_view(state, {**state.presences, **_one(data)}, state.typing)
    if kind == "typing_update":
        key, is_typing = _typing(data)
        typing = state.typing | {key} if is_typing else state.typing - {key}
        return _replace_view(state, dict(state.presences), typing)
    if kind == "presence_removed":
        user_id = _user_id(data)
        presences = {u: p for u, p in state.presences.items() if u != user_id}
        return _replace_view(state, presences, frozenset(k for k in state.typing
                                                         if k[0] != user_id))
    return state, []


def clear(state: ViewState) -> tuple[ViewState, list[PresenceEvent]]:
    """Forget everything (logout): every user removed, every typer stopped."""
    return _replace_view(state, {}, frozenset())


def _initial_state(state: ViewState, data: object) -> tuple[ViewState, list[PresenceEvent]]:
    if not isinstance(data, dict) or not isinstance(data.get("presences"), list):
        raise FrameError(f"bad initial_state data {data!r}")
    presences = {}
    for item in data["presences"]:
        presence = UserPresence.from_json(item)
        presences[presence.user_id] = presence
    typing = frozenset(_typing(item)[0] for item in data.get("typing") or []
                       if _typing(item)[1])
    new_state, events = _replace_view(state, presences, typing)
    return new_state, [*events, ViewSynced(len(new_state.presences))]


def _replace_view(
    state: ViewState, presences: dict[int, UserPresence], typing: frozenset[TypingKey]
) -> tuple[ViewState, list[PresenceEvent]]:
    """The new view, with `is_typing` derived, and every difference from `state` as events."""
    typers = {user for user, _ in typing}
    for user_id, presence in presences.items():
        if presence.is_typing != (user_id in typers):
            presences[user_id] = replace(presence, is_typing=user_id in typers)
    events: list[PresenceEvent] = []
    for key in sorted(state.typing - typing):
        events.append(TypingChanged(key[0], key[1], False))
    for key in sorted(typing - state.typing):
        events.append(TypingChanged(key[0], key[1], True))
    for user_id in sorted(state.presences.keys() - presences.keys()):
        events.append(PresenceRemoved(user_id))
    for user_id, presence in sorted(presences.items()):
        previous = state.presences.get(user_id)
        if presence != previous:
            events.append(PresenceChanged(presence, previous))
    return ViewState(MappingProxyType(presences), typing), events


def _one(data: object) -> dict[int, UserPresence]:
    presence = UserPresence.from_json(data)
    return {presence.user_id: presence}


def _user_id(data: object) -> int:
    user_id = data.get("user_id") if isinstance(data, dict) else None
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise FrameError(f"bad user_id in {data!r}")
    return user_id


def _typing(data: object) -> tuple[TypingKey, bool]:
    user_id = _user_id(data)
    conversation_id, is_typing = data.get("conversation_id"), data.get("is_typing")
    if not isinstance(conversation_id, int) or not isinstance(is_typing, bool):
        raise FrameError(f"bad typing data {data!r}")
    return (user_id, conversation_id), is_typing
