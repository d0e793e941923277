"""TypingIndex: who is typing where, as conversation actors publish it (their `Publish`
effect) and as reads and a rebuilt actor use it."""

from __future__ import annotations

from presence_actors.conversation_rules import Expire, SetTyping, apply, new_conversation
from presence_actors.timing import Timing
from presence_actors.typing_index import TypingIndex

T0 = 1_700_000_000.0
CONVERSATION = 10
ADA, GRACE = 1, 2


def run(*steps: tuple[float, object], state=None):
    state = new_conversation(CONVERSATION) if state is None else state
    for offset, message in steps:
        state, _ = apply(state, message, T0 + offset, Timing())
    return state


def test_index_lists_the_typers_of_a_conversation():
    index = TypingIndex()
    index.publish(10, {ADA: T0 + 5})
    assert index.typers(10) == {ADA: T0 + 5}


def test_index_of_an_unknown_conversation_is_empty():
    assert TypingIndex().typers(10) == {}


def test_index_knows_the_conversations_a_user_types_in():
    index = TypingIndex()
    index.publish(10, {ADA: T0 + 5})
    index.publish(11, {ADA: T0 + 5, GRACE: T0 + 5})
    assert index.typing_in(ADA) == {10, 11}
    assert index.typing_in(GRACE) == {11}


def test_index_forgets_a_user_who_stopped_typing():
    index = TypingIndex()
    index.publish(10, {ADA: T0 + 5, GRACE: T0 + 5})
    index.publish(10, {GRACE: T0 + 5})
    assert index.typing_in(ADA) == frozenset()
    assert index.typers(10) == {GRACE: T0 + 5}


def test_index_drops_a_conversation_with_no_typers():
    index = TypingIndex()
    index.publish(10, {ADA: T0 + 5})
    index.publish(10, {})
    assert index.typers(10) == {}
    assert index.typing_in(ADA) == frozenset()


def test_index_is_typing_in_any_only_for_the_given_conversations():
    index = TypingIndex()
    index.publish(10, {ADA: T0 + 5})
    assert index.is_typing_in_any(ADA, frozenset({9, 10}))
    assert not index.is_typing_in_any(ADA, frozenset({11}))
    assert not index.is_typing_in_any(GRACE, frozenset({10}))


def test_index_follows_the_states_of_a_conversation_actor():
    index = TypingIndex()
    state = run((0, SetTyping(ADA, True)))
    index.publish(CONVERSATION, state.typers)
    state = run((5, Expire()), state=state)
    index.publish(CONVERSATION, state.typers)
    assert not index.is_typing_in_any(ADA, frozenset({CONVERSATION}))
