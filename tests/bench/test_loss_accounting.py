"""`bench.accounting`: a real loss is never counted as coalescing, nor coalescing as loss.

Pure: changes and frames are written out by hand, times in seconds on one clock.
"""

from __future__ import annotations

from bench.accounting import EXPIRY, Change, Post, account, match, presence_changes, typing_changes

WINDOW = (0.0, 100.0)


def tally_of(changes, frames):
    return match(changes, frames, WINDOW)


def test_a_skipped_state_superseded_by_a_later_frame_is_coalesced_not_lost() -> None:
    changes = [Change(1.0, True), Change(2.0, False)]
    tally = tally_of(changes, [(2.5, False)])  # the socket lagged past `true`
    assert (tally.delivered, tally.coalesced, tally.lost, tally.unexpected) == (1, 1, 0, 0)
    assert tally.coalesce_lags == [1.5]  # how long the socket's view lagged the change
    assert tally.latencies == [(2.0, 0.5)]


def test_a_change_no_frame_followed_is_lost_even_if_earlier_ones_arrived() -> None:
    changes = [Change(1.0, True), Change(2.0, False)]
    tally = tally_of(changes, [(1.1, True)])  # the socket ends believing `true`
    assert (tally.delivered, tally.coalesced, tally.lost) == (1, 0, 1)
    assert tally.lost_at == [2.0]  # when the lost change was sent, for the timeline


def test_a_missed_toggle_and_back_is_lost_though_the_last_value_matches() -> None:
    changes = [Change(1.0, "away"), Change(2.0, "online"), Change(3.0, "away")]
    tally = tally_of(changes, [(1.1, "away")])
    assert (tally.delivered, tally.coalesced, tally.lost) == (1, 0, 2)
    # the same changes with one late frame of the final state: one coalesced, none lost
    tally = tally_of(changes, [(1.1, "away"), (3.5, "away")])
    assert (tally.delivered, tally.coalesced, tally.lost) == (2, 1, 0)


def test_nothing_received_loses_every_change() -> None:
    tally = tally_of([Change(1.0, True), Change(2.0, False)], [])
    assert (tally.delivered, tally.coalesced, tally.lost) == (0, 0, 2)


def test_duplicates_frames_from_the_future_and_wrong_values_are_unexpected() -> None:
    changes = [Change(1.0, True), Change(2.0, False)]
    tally = tally_of(changes, [(1.1, True), (1.2, True), (1.5, False), (2.1, False)])
    # second `true` duplicates; `false` at 1.5 precedes the change sent at 2.0
    assert (tally.delivered, tally.unexpected, tally.lost) == (2, 2, 0)


def test_typing_model_expires_a_true_whose_false_never_landed() -> None:
    posts = [Post("k", True, 10.0, 200), Post("k", False, 11.0, 429)]
    assert typing_changes(posts, ttl=5.0)["k"] == [Change(10.0, True), Change(15.0, False, EXPIRY)]
    tally = tally_of(typing_changes(posts, 5.0)["k"], [(10.1, True), (15.3, False)])
    assert (tally.delivered, tally.expiries, tally.lost) == (2, 1, 0)
    assert [round(lag, 3) for _, lag in tally.latencies] == [0.1]  # expiry has no latency


def test_typing_model_a_false_without_its_true_changes_nothing() -> None:
    # the driver skipped the `true` (never sent): the `false` is not a change, not a loss
    posts = [Post("k", False, 11.0, 200)]
    assert typing_changes(posts, ttl=5.0)["k"] == []
    refreshed = [Post("k", True, 1.0, 200), Post("k", True, 4.0, 200), Post("k", True, 10.0, 200)]
    assert typing_changes(refreshed, 5.0)["k"] == [
        Change(1.0, True), Change(9.0, False, EXPIRY), Change(10.0, True),
        Change(15.0, False, EXPIRY)]


def test_presence_model_counts_only_accepted_transitions() -> None:
    posts = [Post(5, "away", 1.0, 200), Post(5, "away", 2.0, 200), Post(5, "online", 3.0, 429),
             Post(5, "online", 9.0, 200)]
    assert presence_changes(posts)[5] == [Change(1.0, "away"), Change(9.0, "online")]


def test_account_leaves_out_uncertain_keys_and_flags_frames_nobody_may_see() -> None:
    changes = {5: [Change(1.0, "away")], 6: [Change(1.0, "away")]}
    watchers = {5: [4, 6], 6: [5, 7]}
    frames = {(4, 5): [(1.2, "away")], (9, 5): [(1.3, "away")], (5, 6): [(1.4, "away")]}
    tally = account(changes, frames, watchers.__getitem__, WINDOW, uncertain={6})
    # key 5: watcher 4 got it, watcher 6 did not (lost), watcher 9 may not see 5
    assert (tally.delivered, tally.lost, tally.unexpected, tally.uncertain) == (1, 1, 1, 1)


def test_account_window_counts_only_its_changes_and_skips_keys_changed_just_before() -> None:
    changes = {
        1: [Change(40.0, "away"), Change(60.0, "online")],  # changed 10 s before the window
        2: [Change(10.0, "away"), Change(52.0, "online"), Change(95.0, "away")],
    }
    frames = {(9, 1): [(60.1, "online")], (9, 2): [(52.1, "online")]}  # recorded from 50 on
    tally = account(changes, frames, lambda key: [9], (50.0, 90.0), quiet=30.0)
    assert tally.excluded == 1
    # key 2: 52.0 delivered; 95.0 is past the window's end (matched if seen, never counted)
    assert (tally.delivered, tally.coalesced, tally.lost, tally.unexpected) == (1, 0, 0, 0)


def test_a_socket_that_never_opened_is_no_watcher_and_loses_nothing() -> None:
    from bench.scenarios.f2_mix import account as mix_account

    n, contacts = 10, 2  # user 5 is watched by 4 and 6 (and itself)
    posts = [["status", 5, 0, "away", 1.0, 200, 0.01]]
    got = {"presence": [(4, 5, "away", 1.1), (5, 5, "away", 1.1)], "typing": [],
           "absent": [6]}
    tallies = mix_account(posts, got, n, contacts, {}, (0.0, 10.0))
    assert (tallies["presence"].delivered, tallies["presence"].lost) == (2, 0)
    got["absent"] = []  # the same frames with 6 connected: its missing frame is a loss
    tallies = mix_account(posts, got, n, contacts, {}, (0.0, 10.0))
    assert (tallies["presence"].delivered, tallies["presence"].lost) == (2, 1)
