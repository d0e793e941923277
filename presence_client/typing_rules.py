"""When to send typing requests: the seed's client-side debounce, as pure rules.

Per conversation: `true` on the first keystroke, and again on a later keystroke once
`typing_min_interval` has passed since the last request (which refreshes the server's
5 s expiry while the user keeps typing); `false` once `typing_idle` passes without a
keystroke; never two requests for one conversation within `typing_min_interval`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from .timing import ClientTiming


@dataclass(frozen=True)
class ConversationTyping:
    shown: bool = False  # the server was last told `true`
    want_true: bool = False  # a keystroke asked for a `true` not sent yet
    last_key: float = -math.inf
    last_request: float = -math.inf


@dataclass(frozen=True)
class SendTyping:
    """An effect: tell the server `is_typing` for `conversation_id`."""

    conversation_id: int
    is_typing: bool


Conversations = Mapping[int, ConversationTyping]


def keystroke(state: Conversations, conversation_id: int, now: float,
              timing: ClientTiming) -> Conversations:
    """A key was pressed: a `true` is due if the debounce window allows one."""
    state = _prune(state, now, timing)
    current = state.get(conversation_id, ConversationTyping())
    refresh = now >= current.last_request + timing.typing_min_interval
    want_true = current.want_true or not current.shown or refresh
    return _with(state, conversation_id, replace(current, last_key=now, want_true=want_true))


def stop(state: Conversations, conversation_id: int) -> Conversations:
    """The message was sent or the field cleared: `false` as soon as the debounce allows."""
    current = state.get(conversation_id)
    if current is None:
        return state
    # Not shown: only a pending `true` to cancel; the entry keeps its debounce time.
    return _with(state, conversation_id, replace(current, want_true=False, last_key=-math.inf))


def next_request(state: Conversations, timing: ClientTiming) -> tuple[float, SendTyping] | None:
    """The earliest request due, with its time, or None."""
    best: tuple[float, SendTyping] | None = None
    for conversation_id, current in state.items():
        if current.want_true:
            at = max(current.last_key, current.last_request + timing.typing_min_interval)
            request = SendTyping(conversation_id, True)
        elif current.shown:
            at = max(current.last_key + timing.typing_idle,
                     current.last_request + timing.typing_min_interval)
            request = SendTyping(conversation_id, False)
        else:
            continue
        if best is None or at < best[0]:
            best = (at, request)
    return best


def sent(state: Conversations, request: SendTyping, now: float) -> Conversations:
    """The request went out (whatever the answer: typing is never retried).

    After a `false` the conversation keeps only its last request time, so a new keystroke
    still waits out the debounce; `keystroke` prunes such entries once it has passed.
    """
    current = state.get(request.conversation_id)
    if current is None:
        return state
    return _with(state, request.conversation_id,
                 replace(current, shown=request.is_typing,
                         want_true=current.want_true and not request.is_typing,
                         last_request=now))


def drop(state: Conversations, conversation_id: int) -> Conversations:
    """The server refused typing there (404): forget it; a later keystroke starts over."""
    return _without(state, conversation_id)


def _prune(state: Conversations, now: float, timing: ClientTiming) -> Conversations:
    """Drop conversations with nothing shown, nothing wanted and the debounce passed."""

    def keep(c: ConversationTyping) -> bool:
        return c.shown or c.want_true or now < c.last_request + timing.typing_min_interval

    if all(keep(c) for c in state.values()):
        return state
    return MappingProxyType({k: c for k, c in state.items() if keep(c)})


def _with(state: Conversations, conversation_id: int,
          value: ConversationTyping) -> Conversations:
    return MappingProxyType({**state, conversation_id: value})


def _without(state: Conversations, conversation_id: int) -> Conversations:
    return MappingProxyType({k: v for k, v in state.items() if k != conversation_id})
