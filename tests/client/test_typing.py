"""The seed's typing "Client-Side Behavior": `true` on the first keystroke, `false` after
3 s without one, at most one request per 2 s (rules, then the loop on the autojump clock)."""

from __future__ import annotations

import itertools
from types import MappingProxyType

import trio

from presence_client import ClientTiming
from presence_client import typing_rules as rules

from .conftest import manager_on
from .fakes import answer, ok
from .test_lifecycle import since

TIMING = ClientTiming()


def run_rules(keys: list[float], until: float, stops: tuple[float, ...] = ()):
    """Drive the pure rules over a timeline; the requests they make, with their times."""
    state, sent, events = MappingProxyType({}), [], sorted(
        [(t, "key") for t in keys] + [(t, "stop") for t in stops])
    while True:
        due = rules.next_request(state, TIMING)
        if events and (due is None or events[0][0] <= due[0]):
            at, kind = events.pop(0)
            state = rules.keystroke(state, 10, at, TIMING) if kind == "key" else rules.stop(
                state, 10)
        elif due is not None and due[0] <= until:
            sent.append((due[0], due[1].is_typing))
            state = rules.sent(state, due[1], due[0])
        else:
            return sent


def test_first_keystroke_true_then_false_after_three_idle_seconds():
    assert run_rules([0.0], until=60) == [(0.0, True), (3.0, False)]


def test_keystrokes_inside_the_debounce_send_nothing_and_push_false_back():
    keys = [0.0, 0.5, 1.0, 1.5, 2.5, 3.0]
    assert run_rules(keys, until=60) == [(0.0, True), (2.5, True), (6.0, False)]


def test_continuous_typing_refreshes_at_most_every_two_seconds():
    keys = [i * 0.25 for i in range(41)]  # 10 s of typing
    sent = run_rules(keys, until=60)
    times = [at for at, _ in sent]
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(times))
    assert all(is_typing for _, is_typing in sent[:-1]) and sent[-1] == (13.0, False)
    # refreshed often enough for the server's 5 s expiry never to fire while typing
    assert max(b - a for a, b in itertools.pairwise(times)) < 5.0


def test_stop_sends_false_as_soon_as_the_debounce_allows():
    assert run_rules([0.0], until=60, stops=(0.5,)) == [(0.0, True), (2.0, False)]


def test_typing_again_right_after_false_waits_for_the_debounce():
    assert run_rules([0.0, 4.0], until=60) == [(0.0, True), (3.0, False), (5.0, True),
                                                (7.0, False)]


async def test_the_typing_loop_keeps_the_rules_timing(autojump_clock, transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        for gap in (0.0, 0.5, 0.5, 0.5, 1.0, 0.5):
            await trio.sleep(gap)
            manager.keystroke(10)
        await trio.sleep(30)
        assert since(t0, transport.typing(10)) == [(0, True), (2.5, True), (6, False)]


async def test_conversations_are_debounced_separately(autojump_clock, transport):
    t0 = trio.current_time()
    async with manager_on(transport) as manager:
        manager.keystroke(10)
        manager.keystroke(11)
        await trio.sleep(30)
        assert since(t0, transport.typing(10)) == [(0, True), (3, False)]
        assert since(t0, transport.typing(11)) == [(0, True), (3, False)]


async def test_a_refused_conversation_is_forgotten(autojump_clock, transport):
    transport.respond = lambda call: answer(404) if "typing" in call.path else ok(call)
    async with manager_on(transport) as manager:
        manager.keystroke(99)
        await trio.sleep(30)
        assert [v for _, v in transport.typing(99)] == [True]  # no `false` for a 404


async def test_typing_after_logout_sends_nothing(autojump_clock, transport):
    async with manager_on(transport) as manager:
        await manager.handle_logout()
        manager.keystroke(10)
        await trio.sleep(30)
        assert transport.typing(10) == []
