"""SPEC §6 typing rules, one rule per test: state + message + `now` in, state + effects out."""

from __future__ import annotations

import pytest

from presence_actors.conversation_rules import (
    Answer,
    ClearUser,
    ConversationState,
    Expire,
    Publish,
    Push,
    SetTyping,
    TypingResult,
    apply,
    is_idle,
    leave,
    new_conversation,
    next_deadline,
)
from presence_actors.errors import RateLimited
from presence_actors.model import TypingRecord
from presence_actors.timing import Timing

TIMING = Timing()  # typing TTL 5 s; bucket of 5, 1 token per second
T0 = 1_700_000_000.0
CONVERSATION = 10
ADA, GRACE = 1, 2


def step(state: ConversationState, message, now: float) -> tuple[ConversationState, list]:
    return apply(state, message, now, TIMING)


def run(*steps: tuple[float, object], state: ConversationState | None = None):
    state = new_conversation(CONVERSATION) if state is None else state
    for offset, message in steps:
        state, _ = step(state, message, T0 + offset)
    return state


def pushed(effects: list) -> list[tuple[int, bool]]:
    return [(e.record.user_id, e.record.is_typing) for e in effects if isinstance(e, Push)]


def replies(effects: list) -> list:
    return [effect.value for effect in effects if isinstance(effect, Answer)]


def limited(effects: list) -> bool:
    return any(isinstance(value, RateLimited) for value in replies(effects))


# --- typing on and off -------------------------------------------------------------------


def test_typing_true_pushes_typing_update_true():
    _, effects = step(new_conversation(CONVERSATION), SetTyping(ADA, True), T0)
    assert [e.record for e in effects if isinstance(e, Push)] == [
        TypingRecord(ADA, CONVERSATION, True)
    ]


def test_typing_true_sets_expiry_to_now_plus_ttl():
    state = run((0, SetTyping(ADA, True)))
    assert state.typers == {ADA: T0 + 5}


def test_typing_true_replies_with_the_expiry():
    _, effects = step(new_conversation(CONVERSATION), SetTyping(ADA, True), T0)
    assert replies(effects) == [TypingResult(CONVERSATION, ADA, True, T0 + 5)]


def test_typing_refresh_at_4_9_seconds_extends_the_expiry():
    state = run((0, SetTyping(ADA, True)), (4.9, SetTyping(ADA, True)))
    assert state.typers == {ADA: T0 + 4.9 + 5}


def test_typing_refresh_pushes_nothing():
    state = run((0, SetTyping(ADA, True)))
    _, effects = step(state, SetTyping(ADA, True), T0 + 4.9)
    assert pushed(effects) == []


def test_refreshed_typing_outlives_the_first_expiry():
    state = run((0, SetTyping(ADA, True)), (4.9, SetTyping(ADA, True)), (9.8, Expire()))
    assert ADA in state.typers


def test_typing_is_still_on_just_before_the_ttl():
    state = run((0, SetTyping(ADA, True)))
    state, effects = step(state, Expire(), T0 + 4.99)
    assert ADA in state.typers
    assert pushed(effects) == []


def test_typing_expires_at_the_ttl_with_a_push_of_false():
    state = run((0, SetTyping(ADA, True)))
    state, effects = step(state, Expire(), T0 + 5)
    assert state.typers == {}
    assert pushed(effects) == [(ADA, False)]


def test_expiry_of_one_typer_leaves_the_others_typing():
    state = run((0, SetTyping(ADA, True)), (3, SetTyping(GRACE, True)))
    state, effects = step(state, Expire(), T0 + 5)
    assert state.typers == {GRACE: T0 + 8}
    assert pushed(effects) == [(ADA, False)]


def test_typing_again_after_expiry_pushes_true_again():
    state = run((0, SetTyping(ADA, True)), (5, Expire()))
    _, effects = step(state, SetTyping(ADA, True), T0 + 6)
    assert pushed(effects) == [(ADA, True)]


def test_typing_false_clears_and_pushes_false():
    state = run((0, SetTyping(ADA, True)))
    state, effects = step(state, SetTyping(ADA, False), T0 + 1)
    assert state.typers == {}
    assert pushed(effects) == [(ADA, False)]


def test_typing_false_replies_without_an_expiry():
    state = run((0, SetTyping(ADA, True)))
    _, effects = step(state, SetTyping(ADA, False), T0 + 1)
    assert replies(effects) == [TypingResult(CONVERSATION, ADA, False, None)]


def test_typing_false_when_not_typing_pushes_nothing():
    _, effects = step(new_conversation(CONVERSATION), SetTyping(ADA, False), T0)
    assert pushed(effects) == []


def test_typing_false_after_expiry_pushes_nothing_more():
    state = run((0, SetTyping(ADA, True)), (5, Expire()))
    _, effects = step(state, SetTyping(ADA, False), T0 + 6)
    assert pushed(effects) == []


# --- what the typing index is told ---------------------------------------------------------


def test_typing_true_publishes_the_typer_with_its_expiry_before_the_push():
    _, effects = step(new_conversation(CONVERSATION), SetTyping(ADA, True), T0)
    assert effects[:2] == [
        Publish(CONVERSATION, {ADA: T0 + 5}),
        Push(TypingRecord(ADA, CONVERSATION, True)),
    ]


def test_a_refresh_publishes_the_extended_expiry_without_a_push():
    state = run((0, SetTyping(ADA, True)))
    _, effects = step(state, SetTyping(ADA, True), T0 + 2)
    assert [e for e in effects if not isinstance(e, Answer)] == [
        Publish(CONVERSATION, {ADA: T0 + 7})
    ]


def test_an_expiry_publishes_the_typers_left():
    state = run((0, SetTyping(ADA, True)), (1, SetTyping(GRACE, True)))
    _, effects = step(state, Expire(), T0 + 5)
    assert effects[0] == Publish(CONVERSATION, {GRACE: T0 + 6})


def test_a_refused_request_publishes_nothing():
    state = run(*[(0, SetTyping(ADA, True))] * 5)
    _, effects = step(state, SetTyping(ADA, False), T0)
    assert limited(effects)
    assert not [e for e in effects if isinstance(e, Publish)]


def test_an_actor_that_leaves_ends_every_published_indicator_and_withdraws_them():
    assert leave(CONVERSATION, {ADA: T0 + 5, GRACE: T0 + 6}) == [
        Push(TypingRecord(ADA, CONVERSATION, False)),
        Push(TypingRecord(GRACE, CONVERSATION, False)),
        Publish(CONVERSATION, {}),
    ]


def test_an_idle_actor_that_leaves_pushes_nothing():
    assert leave(CONVERSATION, {}) == [Publish(CONVERSATION, {})]


# --- clearing a user who went offline ----------------------------------------------------


def test_clear_user_stops_their_typing_with_a_push_of_false():
    state = run((0, SetTyping(ADA, True)), (0, SetTyping(GRACE, True)))
    state, effects = step(state, ClearUser(ADA), T0 + 1)
    assert set(state.typers) == {GRACE}
    assert pushed(effects) == [(ADA, False)]


def test_clear_user_who_is_not_typing_pushes_nothing():
    _, effects = step(new_conversation(CONVERSATION), ClearUser(ADA), T0)
    assert effects == []


def test_clear_user_does_not_charge_the_bucket():
    state = run(*[(0, SetTyping(ADA, True))] * 4, (0, ClearUser(ADA)))
    _, effects = step(state, SetTyping(ADA, True), T0)
    assert not limited(effects)


# --- rate limit: bursts of 5, 1 per second -----------------------------------------------


def test_burst_of_five_is_accepted():
    state = new_conversation(CONVERSATION)
    outcomes = []
    for _ in range(5):
        state, effects = step(state, SetTyping(ADA, True), T0)
        outcomes += replies(effects)
    assert all(isinstance(value, TypingResult) for value in outcomes)
    assert len(outcomes) == 5


def test_sixth_request_of_a_burst_is_rate_limited_with_retry_after():
    state = run(*[(0, SetTyping(ADA, True))] * 5)
    _, effects = step(state, SetTyping(ADA, True), T0)
    [value] = replies(effects)
    assert isinstance(value, RateLimited)
    assert value.retry_after == 1


def test_rate_limited_typing_changes_nothing():
    before = run(*[(0, SetTyping(ADA, True))] * 5)
    state, effects = step(before, SetTyping(ADA, False), T0 + 0.5)
    assert state == before
    assert pushed(effects) == []


def test_one_more_request_is_accepted_a_second_after_the_burst():
    state = run(*[(0, SetTyping(ADA, True))] * 5, (0.5, SetTyping(ADA, True)))
    _, effects = step(state, SetTyping(ADA, True), T0 + 1)
    assert replies(effects) == [TypingResult(CONVERSATION, ADA, True, T0 + 6)]


def test_only_one_request_is_accepted_a_second_after_the_burst():
    state = run(*[(0, SetTyping(ADA, True))] * 5, (1, SetTyping(ADA, True)))
    _, effects = step(state, SetTyping(ADA, True), T0 + 1)
    assert limited(effects)


def test_one_request_per_second_is_sustained_after_a_burst():
    state = run(*[(0, SetTyping(ADA, True))] * 5)
    refused = 0
    for second in range(1, 31):
        state, effects = step(state, SetTyping(ADA, second % 2 == 0), T0 + second)
        refused += limited(effects)
    assert refused == 0


def test_retry_after_is_the_whole_seconds_until_a_token_is_back():
    # 5 at once, then one per second leaves the bucket empty; half a second later a token
    # is half refilled: Retry-After rounds 0.5 s up to 1.
    state = run(*[(0, SetTyping(ADA, True))] * 5, (1, SetTyping(ADA, True)))
    _, effects = step(state, SetTyping(ADA, True), T0 + 1.5)
    [value] = replies(effects)
    assert value.retry_after == 1


def test_rate_limit_is_per_user():
    state = run(*[(0, SetTyping(ADA, True))] * 5)
    _, effects = step(state, SetTyping(GRACE, True), T0)
    assert not limited(effects)


def test_bucket_refills_to_the_burst_and_no_more():
    state = run(*[(0, SetTyping(ADA, True))] * 5, (3600, Expire()))
    for _ in range(5):
        state, effects = step(state, SetTyping(ADA, True), T0 + 3600)
        assert not limited(effects)
    _, effects = step(state, SetTyping(ADA, True), T0 + 3600)
    assert limited(effects)


# --- idleness and deadlines --------------------------------------------------------------


def test_new_conversation_is_idle_with_no_deadline():
    state = new_conversation(CONVERSATION)
    assert is_idle(state)
    assert next_deadline(state, TIMING) is None


def test_conversation_with_a_typer_is_not_idle():
    assert not is_idle(run((0, SetTyping(ADA, True))))


def test_conversation_with_a_refilling_bucket_is_not_idle():
    assert not is_idle(run((0, SetTyping(ADA, False))))


def test_next_deadline_is_the_earliest_of_expiries_and_refills():
    state = run((0, SetTyping(ADA, True)), *[(0.5, SetTyping(GRACE, False))] * 3)
    # ADA's bucket is full again at T0 + 1, GRACE's at T0 + 3.5, ADA stops typing at T0 + 5.
    assert next_deadline(state, TIMING) == T0 + 1


def test_next_deadline_is_the_bucket_refill_when_nobody_types():
    state = run(*[(0, SetTyping(ADA, False))] * 3)
    assert next_deadline(state, TIMING) == T0 + 3


def test_next_deadline_after_refill_is_the_typer_expiry():
    state = run((0, SetTyping(ADA, True)), (1, Expire()))
    assert next_deadline(state, TIMING) == T0 + 5


def test_conversation_is_idle_once_typing_expired_and_buckets_refilled():
    state = run(*[(0, SetTyping(ADA, True))] * 5, (5, Expire()))
    assert is_idle(state)


def test_a_message_the_conversation_actor_does_not_know_is_a_type_error():
    with pytest.raises(TypeError):
        step(new_conversation(CONVERSATION), object(), T0)
