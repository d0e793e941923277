"""A conversation's typing rules (SPEC §6) as pure functions, `now` passed in.

`is_typing: true` sets the typer's expiry to now + TTL (a refresh only extends it);
`false` clears it. A push happens only when someone starts or stops typing, expiry
included. Each (user, conversation) has a token bucket: bursts of 5, 1 per second.
Whenever the typers change (an expiry extended included), a `Publish` effect puts them in
the typing index, which reads use and from which a fresh actor rebuilds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .errors import RateLimited
from .messages import Answer, Expire
from .model import TypingRecord
from .timing import Timing

if TYPE_CHECKING:  # typing only: the rules import no trio
    from .mailbox import ReplySlot

# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float

    def level(self, now: float, timing: Timing) -> float:
        return min(float(timing.typing_burst), self.tokens + (now - self.at) * timing.typing_rate)

    def full_at(self, timing: Timing) -> float:
        return self.at + (timing.typing_burst - self.tokens) / timing.typing_rate


@dataclass(frozen=True, slots=True)
class ConversationState:
    conversation_id: int
    typers: Mapping[int, float]  # user_id -> expires_at
    buckets: Mapping[int, Bucket]  # only users whose bucket is not full


def new_conversation(conversation_id: int) -> ConversationState:
    return ConversationState(conversation_id, {}, {})


@dataclass(frozen=True, slots=True)
class TypingResult:
    conversation_id: int
    user_id: int
    is_typing: bool
    expires_at: float | None


# --- messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetTyping:
    user_id: int
    is_typing: bool
    reply: ReplySlot | None = None


@dataclass(frozen=True, slots=True)
class ClearUser:
    """The user went offline: stop their typing here, without charging their bucket."""

    user_id: int


ConversationMessage = SetTyping | ClearUser | Expire


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    """Tell the other participants: this user started or stopped typing here."""

    record: TypingRecord


@dataclass(frozen=True, slots=True)
class Publish:
    """Show this conversation's typers (user -> expires_at) in the typing index."""

    conversation_id: int
    typers: Mapping[int, float]


Effect = Publish | Push | Answer


# --- rules -------------------------------------------------------------------------------


def apply(
    state: ConversationState, message: ConversationMessage, now: float, timing: Timing
) -> tuple[ConversationState, list[Effect]]:
    """One step: expire what is due, handle the message; publish the typers if they changed."""
    before = state
    state, effects = expire(state, now, timing)
    match message:
        case SetTyping(user_id, is_typing, reply):
            try:
                state = charge(state, user_id, now, timing)
            except RateLimited as limited:
                effects.append(Answer(reply, limited))
            else:
                state, pushed = set_typing(state, user_id, is_typing, now, timing)
                effects.extend(pushed)
                expires_at = state.typers.get(user_id)
                result = TypingResult(state.conversation_id, user_id, is_typing, expires_at)
                effects.append(Answer(reply, result))
        case ClearUser(user_id):
            state, pushed = set_typing(state, user_id, False, now, timing)
            effects.extend(pushed)
        case Expire():
            pass
        case _:
            raise TypeError(f"not a conversation message: {message!r}")
    if state.typers != before.typers:
        effects.insert(0, Publish(state.conversation_id, state.typers))
    return state, effects


def leave(conversation_id: int, published: Mapping[int, float]) -> list[Effect]:
    """The actor stops for good: every indicator it published ends (pushed false) and its
    index entry is withdrawn. An idle actor published none, so nothing is pushed then."""
    ended: list[Effect] = [Push(TypingRecord(uid, conversation_id, False)) for uid in published]
    return [*ended, Publish(conversation_id, {})]


def expire(
    state: ConversationState, now: float, timing: Timing
) -> tuple[ConversationState, list[Effect]]:
    """Typers past their expiry stop (and are pushed); full buckets are forgotten."""
    ended = [uid for uid, expires_at in state.typers.items() if expires_at <= now]
    full = [uid for uid, bucket in state.buckets.items() if bucket.full_at(timing) <= now]
    if not ended and not full:
        return state, []
    typers = {uid: at for uid, at in state.typers.items() if uid not in ended}
    buckets = {uid: b for uid, b in state.buckets.items() if uid not in full}
    pushes: list[Effect] = [Push(TypingRecord(uid, state.conversation_id, False)) for uid in ended]
    return replace(state, typers=typers, buckets=buckets), pushes


def charge(state: ConversationState, user_id: int, now: float, timing: Timing) -> ConversationState:
    """Take one token from the user's bucket, or raise RateLimited and change nothing."""
    bucket = state.buckets.get(user_id)
    level = float(timing.typing_burst) if bucket is None else bucket.level(now, timing)
    if level < 1.0:
        raise RateLimited(max(1, math.ceil((1.0 - level) / timing.typing_rate)))
    return replace(state, buckets={**state.buckets, user_id: Bucket(level - 1.0, now)})


def set_typing(
    state: ConversationState, user_id: int, is_typing: bool, now: float, timing: Timing
) -> tuple[ConversationState, list[Effect]]:
    was_typing = user_id in state.typers
    typers = dict(state.typers)
    if is_typing:
        typers[user_id] = now + timing.typing_ttl
    else:
        typers.pop(user_id, None)
    state = replace(state, typers=typers)
    if is_typing == was_typing:
        return state, []
    return state, [Push(TypingRecord(user_id, state.conversation_id, is_typing))]


def next_deadline(state: ConversationState, timing: Timing) -> float | None:
    """The next typer expiry or bucket refill, or None when nothing is pending."""
    deadlines = list(state.typers.values())
    deadlines.extend(bucket.full_at(timing) for bucket in state.buckets.values())
    return min(deadlines) if deadlines else None


def is_idle(state: ConversationState) -> bool:
    return not state.typers and not state.buckets
