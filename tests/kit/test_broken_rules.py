"""The documented examples catch a broken rule: each rule is broken on purpose here, and the
example that covers it must fail (the same examples pass, unbroken, in examples/)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence_actors import Timing, conversation_rules, user_actor

from .examples import test_away_ttl, test_checklist, test_first

WRITE_TYPING = conversation_rules.write
BROKEN = {
    "away devices live the online TTL": (
        Timing, "ttl", lambda self, status: self.online_ttl,
        test_away_ttl.test_an_away_device_lives_600_seconds_after_its_last_activity),
    "online devices never expire": (
        Timing, "ttl", lambda self, status: 1e9,
        test_first.test_ada_goes_offline_60_seconds_after_her_last_heartbeat),
    "typing lives an hour": (
        conversation_rules, "write",
        lambda state, user, typing, now, timing: WRITE_TYPING(
            state, user, typing, now, replace(timing, typing_ttl=3600)),
        test_checklist.test_typing_indicators_auto_expire_after_timeout),
    "no disconnect grace": (
        Timing, "after_last_socket", lambda self, status: 0.0,
        test_checklist.test_websocket_reconnection_preserves_subscription_state),
    "changes are not pushed": (
        user_actor.UserActor, "push", lambda self, record: None,
        test_checklist.test_post_status_broadcasts_to_websocket_subscribers),
}


@pytest.mark.parametrize("breakage", list(BROKEN))
async def test_an_example_fails_when_its_rule_is_broken(breakage, presence_factory, monkeypatch):
    owner, name, broken, example = BROKEN[breakage]
    monkeypatch.setattr(owner, name, broken)
    with pytest.raises(AssertionError):
        await example(await presence_factory())
