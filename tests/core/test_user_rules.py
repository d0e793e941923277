"""SPEC §5 presence rules, one rule per test: state + message + `now` in, state + effects out."""

from __future__ import annotations

import pytest

from presence_actors.errors import RateLimited, TooManyDevices, TooManySockets
from presence_actors.model import PresenceRecord, PresenceStatus
from presence_actors.timing import Timing
from presence_actors.user_rules import (
    Answer,
    ClearTyping,
    Connect,
    Disconnect,
    Expire,
    Persist,
    Publish,
    Push,
    SetStatus,
    Touch,
    UserState,
    Withdraw,
    apply,
    is_idle,
    leave,
    live_devices,
    new_user,
    next_deadline,
)

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
TIMING = Timing()  # the SPEC defaults: online 60 s, away 600 s, grace 10 s, 5 s between posts
T0 = 1_700_000_000.0  # a wall-clock epoch, like the actor passes in
USER = 7


def step(state: UserState, message, now: float) -> tuple[UserState, list]:
    return apply(state, message, now, TIMING)


def run(*steps: tuple[float, object], state: UserState | None = None) -> UserState:
    """Apply (offset from T0, message) pairs in order; return the final state."""
    state = new_user(USER) if state is None else state
    for offset, message in steps:
        state, _ = step(state, message, T0 + offset)
    return state


def pushed(effects: list) -> list[PresenceStatus]:
    return [effect.record.status for effect in effects if isinstance(effect, Push)]


def replies(effects: list) -> list:
    return [effect.value for effect in effects if isinstance(effect, Answer)]


# --- the announced status ------------------------------------------------------------------


def test_actor_restarted_with_online_announced_and_no_device_pushes_offline():
    state, effects = step(new_user(USER, last_seen=T0 - 60, announced=ONLINE), Expire(), T0)
    assert pushed(effects) == [OFFLINE]
    assert ClearTyping(USER) in effects
    assert state.announced is OFFLINE


def test_a_message_the_user_actor_does_not_know_is_a_type_error():
    with pytest.raises(TypeError):
        step(new_user(USER), object(), T0)


# --- a status post -----------------------------------------------------------------------


def test_status_post_makes_the_user_online_and_pushes_it():
    state, effects = step(new_user(USER), SetStatus("phone", ONLINE), T0)
    assert state.status is ONLINE
    assert pushed(effects) == [ONLINE]


def test_status_post_sets_last_seen_to_now():
    state, _ = step(new_user(USER, last_seen=T0 - 100), SetStatus("phone", AWAY), T0)
    assert state.last_seen == T0


def test_status_post_replies_with_the_aggregate_not_the_posted_status():
    state = run((0, SetStatus("laptop", ONLINE)))
    _, effects = step(state, SetStatus("phone", AWAY), T0 + 1)
    assert replies(effects) == [PresenceRecord(USER, ONLINE, T0 + 1)]


def test_status_change_on_the_only_device_pushes_the_new_status():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, SetStatus("phone", AWAY), T0 + 5)
    assert pushed(effects) == [AWAY]


def test_push_and_persist_carry_the_new_record():
    _, effects = step(new_user(USER), SetStatus("phone", AWAY), T0)
    record = PresenceRecord(USER, AWAY, T0)
    assert Push(record) in effects
    assert Persist(record) in effects


# --- the board: what reads see of a live user -----------------------------------------------


def test_a_change_is_published_on_the_board_first_then_persisted_pushed_and_answered():
    _, effects = step(new_user(USER), SetStatus("phone", AWAY), T0)
    record = PresenceRecord(USER, AWAY, T0)
    assert effects == [Publish(record), Persist(record), Push(record), Answer(None, record)]


def test_a_heartbeat_publishes_the_moved_last_seen_without_a_push():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, Touch("phone"), T0 + 2)
    record = PresenceRecord(USER, ONLINE, T0 + 2)
    assert effects == [Publish(record), Persist(record)]


def test_nothing_is_published_when_neither_status_nor_last_seen_moved():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, Expire(), T0 + 30)
    assert effects == []


def test_an_actor_that_leaves_withdraws_the_user_from_the_board():
    assert leave(USER) == [Withdraw(USER)]


# --- aggregation over devices ------------------------------------------------------------


def test_aggregate_of_online_and_away_devices_is_online():
    state = run((0, SetStatus("laptop", AWAY)), (1, SetStatus("phone", ONLINE)))
    assert state.status is ONLINE


def test_aggregate_stays_online_when_a_second_device_posts_away():
    state = run((0, SetStatus("laptop", ONLINE)))
    state, effects = step(state, SetStatus("phone", AWAY), T0 + 1)
    assert state.status is ONLINE
    assert pushed(effects) == []


def test_away_device_joining_an_away_user_pushes_nothing():
    state = run((0, SetStatus("laptop", AWAY)))
    state, effects = step(state, SetStatus("phone", AWAY), T0 + 1)
    assert state.status is AWAY
    assert pushed(effects) == []


def test_aggregate_is_away_when_every_device_is_away():
    state = run((0, SetStatus("laptop", AWAY)), (1, SetStatus("phone", AWAY)))
    assert state.status is AWAY


def test_new_user_with_no_device_is_offline():
    assert new_user(USER, last_seen=T0).status is OFFLINE


def test_online_device_going_away_drops_aggregate_to_the_next_highest():
    state = run((0, SetStatus("laptop", AWAY)), (1, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", AWAY), T0 + 6)
    assert pushed(effects) == [AWAY]


# --- explicit offline --------------------------------------------------------------------


def test_offline_on_one_device_while_another_is_online_keeps_online_without_push():
    state = run((0, SetStatus("laptop", ONLINE)), (1, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", OFFLINE), T0 + 2)
    assert state.status is ONLINE
    assert pushed(effects) == []


def test_offline_on_one_device_removes_that_device_at_once():
    state = run((0, SetStatus("laptop", ONLINE)), (1, SetStatus("phone", ONLINE)))
    state, _ = step(state, SetStatus("phone", OFFLINE), T0 + 2)
    assert set(live_devices(state, state.at)) == {"laptop"}


def test_offline_on_the_last_device_pushes_offline():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", OFFLINE), T0 + 1)
    assert state.status is OFFLINE
    assert pushed(effects) == [OFFLINE]


def test_explicit_offline_sets_last_seen_to_now():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", OFFLINE), T0 + 30)
    assert state.last_seen == T0 + 30
    assert Persist(PresenceRecord(USER, OFFLINE, T0 + 30)) in effects


def test_explicit_offline_from_a_device_with_an_open_socket_pushes_offline():
    state = run((0, Connect("phone")))
    state, effects = step(state, SetStatus("phone", OFFLINE), T0 + 1)
    assert pushed(effects) == [OFFLINE]


def test_going_offline_emits_clear_typing():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, SetStatus("phone", OFFLINE), T0 + 1)
    assert ClearTyping(USER) in effects


def test_device_offline_while_user_stays_online_does_not_clear_typing():
    state = run((0, SetStatus("laptop", ONLINE)), (1, SetStatus("phone", ONLINE)))
    _, effects = step(state, SetStatus("phone", OFFLINE), T0 + 2)
    assert not [effect for effect in effects if isinstance(effect, ClearTyping)]


def test_expiry_to_offline_also_emits_clear_typing():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, Expire(), T0 + TIMING.online_ttl)
    assert ClearTyping(USER) in effects


def test_offline_post_from_an_unknown_device_of_an_offline_user_pushes_nothing():
    state, effects = step(new_user(USER, last_seen=T0 - 50), SetStatus("phone", OFFLINE), T0)
    assert pushed(effects) == []
    assert state.last_seen == T0


# --- lifetimes without a socket ----------------------------------------------------------


def test_online_device_without_socket_lives_just_under_the_online_ttl():
    state = run((0, SetStatus("phone", ONLINE)), (59.9, Expire()))
    assert state.status is ONLINE


def test_online_device_without_socket_expires_at_the_online_ttl():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, Expire(), T0 + 60)
    assert state.status is OFFLINE
    assert pushed(effects) == [OFFLINE]


def test_away_device_without_socket_lives_past_the_online_ttl():
    state = run((0, SetStatus("phone", AWAY)), (599.9, Expire()))
    assert state.status is AWAY


def test_away_device_without_socket_expires_at_the_away_ttl():
    state = run((0, SetStatus("phone", AWAY)))
    state, effects = step(state, Expire(), T0 + 600)
    assert state.status is OFFLINE
    assert pushed(effects) == [OFFLINE]


def test_next_deadline_is_last_activity_plus_ttl_of_the_status():
    state = run((0, SetStatus("laptop", AWAY)), (1, SetStatus("phone", ONLINE)))
    assert next_deadline(state) == T0 + 1 + 60


def test_touch_extends_the_device_lifetime_from_the_touch():
    state = run((0, SetStatus("phone", ONLINE)), (50, Touch("phone")))
    assert next_deadline(state) == T0 + 50 + 60


def test_touch_keeps_a_device_alive_past_its_original_ttl():
    state = run((0, SetStatus("phone", ONLINE)), (50, Touch("phone")), (100, Expire()))
    assert state.status is ONLINE


def test_touch_moves_last_seen_without_push():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, Touch("phone"), T0 + 2)
    assert state.last_seen == T0 + 2
    assert pushed(effects) == []


def test_touch_from_a_device_with_no_live_status_makes_it_online():
    # Issue 8 item 6: typing (or any activity) with no live device showed "offline and
    # typing" without moving last_seen; activity is activity of that device (SPEC §5).
    state, effects = step(new_user(USER, last_seen=T0 - 10), Touch("phone"), T0)
    assert set(live_devices(state, T0)) == {"phone"}
    assert pushed(effects) == [ONLINE]
    assert state.last_seen == T0


def test_touch_brings_back_a_device_posted_offline():
    state = run((0, SetStatus("phone", ONLINE)), (1, SetStatus("phone", OFFLINE)))
    state, effects = step(state, Touch("phone"), T0 + 2)
    assert pushed(effects) == [ONLINE]


def test_a_device_brought_online_by_activity_lives_the_online_ttl():
    state, _ = step(new_user(USER), Touch("phone"), T0)
    assert next_deadline(state) == T0 + 60


def test_expiry_of_one_device_drops_the_aggregate_to_the_remaining_device():
    state = run((0, SetStatus("phone", ONLINE)), (1, SetStatus("laptop", AWAY)))
    state, effects = step(state, Expire(), T0 + 60)
    assert set(live_devices(state, state.at)) == {"laptop"}
    assert pushed(effects) == [AWAY]


def test_expiry_of_the_last_device_pushes_offline_with_last_seen_unmoved():
    state = run((0, SetStatus("phone", ONLINE)), (20, Touch("phone")))
    _, effects = step(state, Expire(), T0 + 80)
    assert Push(PresenceRecord(USER, OFFLINE, T0 + 20)) in effects


def test_expiry_does_not_move_last_seen():
    state = run((0, SetStatus("phone", ONLINE)))
    state, _ = step(state, Expire(), T0 + 60)
    assert state.last_seen == T0


def test_expire_before_any_deadline_changes_nothing():
    before = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(before, Expire(), T0 + 30)
    assert state == before
    assert effects == []


def test_a_late_message_first_expires_what_was_due():
    state = run((0, SetStatus("laptop", ONLINE)))
    state, _ = step(state, SetStatus("phone", AWAY), T0 + 61)
    assert state.status is AWAY
    assert set(live_devices(state, state.at)) == {"phone"}


# --- sockets -----------------------------------------------------------------------------


def test_connect_from_a_device_with_no_status_makes_it_online():
    state, effects = step(new_user(USER), Connect("phone"), T0)
    assert state.status is ONLINE
    assert pushed(effects) == [ONLINE]


def test_connect_replies_with_the_record():
    _, effects = step(new_user(USER), Connect("phone"), T0)
    assert replies(effects) == [PresenceRecord(USER, ONLINE, T0)]


def test_connect_keeps_an_away_device_away():
    state = run((0, SetStatus("phone", AWAY)), (1, Connect("phone")))
    assert state.status is AWAY


def test_connect_moves_last_seen():
    state = run((0, SetStatus("phone", AWAY)), (3, Connect("phone")))
    assert state.last_seen == T0 + 3


def test_device_with_an_open_socket_does_not_expire():
    state = run((0, Connect("phone")), (10_000, Expire()))
    assert state.status is ONLINE


def test_device_with_an_open_socket_has_no_deadline():
    state = run((0, Connect("phone")))
    assert next_deadline(state) is None


def test_status_post_on_a_connected_device_keeps_it_bound_to_the_socket():
    state = run((0, Connect("phone")), (1, SetStatus("phone", AWAY)), (5000, Expire()))
    assert state.status is AWAY


def test_socket_close_moves_last_seen():
    state = run((0, Connect("phone")))
    state, _ = step(state, Disconnect("phone"), T0 + 42)
    assert state.last_seen == T0 + 42


def test_online_device_outlives_its_last_socket_by_the_disconnect_grace():
    state = run((0, Connect("phone")), (30, Disconnect("phone")))
    assert next_deadline(state) == T0 + 30 + 10


def test_online_device_expires_at_the_end_of_the_disconnect_grace():
    state = run((0, Connect("phone")), (30, Disconnect("phone")), (39.99, Expire()))
    assert state.status is ONLINE
    state, effects = step(state, Expire(), T0 + 40)
    assert pushed(effects) == [OFFLINE]


def test_away_device_outlives_its_last_socket_by_the_away_ttl():
    state = run((0, Connect("phone")), (1, SetStatus("phone", AWAY)), (30, Disconnect("phone")))
    assert next_deadline(state) == T0 + 30 + 600


def test_away_device_is_still_away_after_the_disconnect_grace():
    steps = [(0, Connect("phone")), (1, SetStatus("phone", AWAY)), (30, Disconnect("phone"))]
    state = run(*steps, (30 + 599, Expire()))
    assert state.status is AWAY


def test_reconnect_inside_the_grace_pushes_nothing_at_all():
    state, first = step(new_user(USER), Connect("phone"), T0)
    effects: list = []
    for offset, message in [(30, Disconnect("phone")), (39, Expire()), (39.5, Connect("phone"))]:
        state, produced = step(state, message, T0 + offset)
        effects += produced
    assert pushed(first) == [ONLINE]
    assert pushed(effects) == []
    assert state.status is ONLINE


def test_reconnect_after_the_grace_pushes_offline_then_online():
    state = run((0, Connect("phone")), (30, Disconnect("phone")))
    state, expired = step(state, Expire(), T0 + 40)
    state, reconnected = step(state, Connect("phone"), T0 + 41)
    assert pushed(expired) + pushed(reconnected) == [OFFLINE, ONLINE]


def test_closing_one_of_two_sockets_keeps_the_device_bound_to_the_other():
    state = run((0, Connect("phone")), (1, Connect("phone")), (2, Disconnect("phone")))
    assert next_deadline(state) is None
    state = run((10_000, Expire()), state=state)
    assert state.status is ONLINE


def test_disconnect_without_an_open_socket_changes_nothing():
    before = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(before, Disconnect("phone"), T0 + 1)
    assert state == before
    assert effects == []


def test_socket_of_a_device_that_posted_offline_keeps_the_user_offline_on_close():
    state = run((0, Connect("phone")), (1, SetStatus("phone", OFFLINE)))
    state, effects = step(state, Disconnect("phone"), T0 + 2)
    assert state.status is OFFLINE
    assert pushed(effects) == []


# --- rate limit --------------------------------------------------------------------------


def test_status_post_4_99_seconds_after_the_last_is_rate_limited_with_retry_after_1():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, SetStatus("phone", AWAY), T0 + 4.99)
    [limited] = replies(effects)
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 1


def test_rate_limited_status_post_changes_nothing():
    before = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(before, SetStatus("phone", AWAY), T0 + 4.99)
    assert state == before
    assert [e for e in effects if not isinstance(e, Answer)] == []


def test_rate_limited_status_post_does_not_restart_the_window():
    state = run((0, SetStatus("phone", ONLINE)), (4, SetStatus("phone", AWAY)))
    state, _ = step(state, SetStatus("phone", AWAY), T0 + 5)
    assert state.status is AWAY


def test_status_post_5_seconds_after_the_last_is_accepted():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", AWAY), T0 + 5)
    assert replies(effects) == [PresenceRecord(USER, AWAY, T0 + 5)]
    assert state.status is AWAY


def test_retry_after_rounds_the_wait_up_to_whole_seconds():
    state = run((0, SetStatus("phone", ONLINE)))
    _, effects = step(state, SetStatus("phone", ONLINE), T0 + 0.5)
    [limited] = replies(effects)
    assert limited.retry_after == 5


def test_rate_limit_is_per_device():
    state = run((0, SetStatus("laptop", ONLINE)))
    state, effects = step(state, SetStatus("phone", AWAY), T0 + 1)
    assert replies(effects) == [PresenceRecord(USER, ONLINE, T0 + 1)]
    assert set(live_devices(state, state.at)) == {"laptop", "phone"}


def test_offline_is_never_rate_limited():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", OFFLINE), T0 + 0.01)
    assert replies(effects) == [PresenceRecord(USER, OFFLINE, T0 + 0.01)]
    assert state.status is OFFLINE


def test_status_post_right_after_an_offline_post_is_still_rate_limited():
    # Regression: an accepted offline post used to reset the window, so online/offline
    # could alternate without limit and every flip was pushed to every watcher.
    state = run((0, SetStatus("phone", ONLINE)), (1, SetStatus("phone", OFFLINE)))
    _, effects = step(state, SetStatus("phone", ONLINE), T0 + 2)
    [limited] = replies(effects)
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 4  # the window counts from the offline post at T0 + 1


def test_status_post_5_seconds_after_an_offline_post_is_accepted():
    state = run((0, SetStatus("phone", ONLINE)), (1, SetStatus("phone", OFFLINE)))
    state, _ = step(state, SetStatus("phone", ONLINE), T0 + 6)
    assert state.status is ONLINE


def test_offline_after_offline_is_not_rate_limited():
    state = run((0, SetStatus("phone", OFFLINE)))
    _, effects = step(state, SetStatus("phone", OFFLINE), T0 + 1)
    assert replies(effects) == [PresenceRecord(USER, OFFLINE, T0 + 1)]


def test_connect_is_not_a_status_post_and_is_never_rate_limited():
    state = run((0, SetStatus("phone", AWAY)), (1, Disconnect("phone")))
    _, effects = step(state, Connect("phone"), T0 + 1.5)
    assert replies(effects) == [PresenceRecord(USER, AWAY, T0 + 1.5)]


def test_heartbeat_of_the_same_status_moves_last_seen_without_push():
    state = run((0, SetStatus("phone", ONLINE)))
    state, effects = step(state, SetStatus("phone", ONLINE), T0 + 5)
    assert state.last_seen == T0 + 5
    assert pushed(effects) == []
    assert Persist(PresenceRecord(USER, ONLINE, T0 + 5)) in effects


def test_heartbeat_extends_the_device_lifetime():
    state = run((0, SetStatus("phone", ONLINE)), (50, SetStatus("phone", ONLINE)))
    assert next_deadline(state) == T0 + 50 + 60


# --- idleness and deadlines --------------------------------------------------------------


def test_new_user_is_idle():
    assert is_idle(new_user(USER, last_seen=T0))


def test_user_with_a_live_device_is_not_idle():
    assert not is_idle(run((0, SetStatus("phone", AWAY))))


def test_user_with_an_open_socket_but_no_status_is_not_idle():
    state = run((0, Connect("phone")), (1, SetStatus("phone", OFFLINE)))
    assert not is_idle(state)


def test_user_is_idle_once_the_last_device_expired():
    assert is_idle(run((0, SetStatus("phone", ONLINE)), (60, Expire())))


def test_user_is_idle_once_every_socket_closed_and_the_grace_ran_out():
    assert is_idle(run((0, Connect("phone")), (1, Disconnect("phone")), (11, Expire())))


def test_user_is_not_idle_while_an_offline_posts_rate_window_is_open():
    state = run((0, SetStatus("phone", OFFLINE)))
    assert not is_idle(state)
    assert next_deadline(state) == T0 + 5


def test_user_is_idle_once_the_offline_rate_window_closed():
    assert is_idle(run((0, SetStatus("phone", OFFLINE)), (5, Expire())))


def test_next_deadline_is_none_without_devices():
    assert next_deadline(new_user(USER)) is None


def test_next_deadline_is_the_earliest_device_expiry():
    state = run((0, SetStatus("laptop", AWAY)), (0, Connect("phone")), (5, Disconnect("phone")))
    assert next_deadline(state) == T0 + 5 + 10


# --- one account cannot flood its watchers (issue 8 item 12) ----------------------------


CAP = TIMING.max_devices_per_user  # 20, as many as sockets


def ten_devices(at: float = 0) -> UserState:
    return run(*[(at + i * 0.1, SetStatus(f"d{i}", ONLINE)) for i in range(10)])


def all_devices() -> UserState:
    """CAP live devices, d0 at T0 and one a second after it (the user's bucket admits
    one a second once its burst of ten is spent)."""
    return run(*[(float(i), SetStatus(f"d{i}", ONLINE)) for i in range(CAP)])


def test_a_new_device_beyond_the_cap_is_429_until_the_first_can_expire():
    state = all_devices()
    state, effects = step(state, SetStatus("new", ONLINE), T0 + CAP)
    [refused] = replies(effects)
    assert isinstance(refused, TooManyDevices) and refused.retry_after == 60 - CAP  # d0: T0 + 60
    assert set(live_devices(state, T0 + CAP)) == {f"d{i}" for i in range(CAP)}
    state, effects = step(state, SetStatus("new", ONLINE), T0 + 60)  # d0 expired
    assert replies(effects) == [PresenceRecord(USER, ONLINE, T0 + 60)]


def test_a_device_already_live_may_post_when_the_user_has_the_cap():
    _, effects = step(all_devices(), SetStatus("d3", AWAY), T0 + CAP)
    assert replies(effects) == [PresenceRecord(USER, ONLINE, T0 + CAP)]


def test_a_socket_or_activity_from_a_new_device_beyond_the_cap_is_refused():
    state = all_devices()
    state, effects = step(state, Connect("new"), T0 + CAP)
    assert isinstance(replies(effects)[0], TooManySockets)
    state, effects = step(state, Touch("new"), T0 + CAP)
    assert "new" not in live_devices(state, T0 + CAP) and effects == []


def test_the_device_cap_lets_every_socket_a_user_may_open_be_a_device_of_its_own():
    assert TIMING.max_devices_per_user >= TIMING.max_sockets_per_user


def test_status_updates_of_one_user_are_a_burst_of_ten_then_one_per_second():
    state = ten_devices()  # ten updates: the user's bucket is empty
    answers = []
    for i in range(10):  # 5 s later every device's own window is open again
        state, effects = step(state, SetStatus(f"d{i}", AWAY), T0 + 5.9)
        answers += replies(effects)
    limited = [a for a in answers if isinstance(a, RateLimited)]
    assert len(answers) - len(limited) == 5 and limited[0].retry_after == 1
    _, effects = step(state, SetStatus("d9", OFFLINE), T0 + 5.9)  # offline: never limited
    assert replies(effects) == [PresenceRecord(USER, ONLINE, T0 + 5.9)]


def test_a_vanished_socket_s_close_keeps_last_seen_at_its_last_activity():
    # Issue 8 item 20: a dead peer is found up to a minute after it went silent.
    state = run((0, Connect("phone")), (10, Touch("phone")))
    state, effects = step(state, Disconnect("phone", vanished=True), T0 + 55)
    assert state.last_seen == T0 + 10
    assert effects == []  # nothing moved: no publish, no persist, no push
    assert next_deadline(state) == T0 + 55 + 10  # the grace runs from now: no flap


def test_a_closed_socket_s_close_is_activity():
    state = run((0, Connect("phone")), (10, Touch("phone")))
    state, _ = step(state, Disconnect("phone"), T0 + 55)
    assert state.last_seen == T0 + 55
