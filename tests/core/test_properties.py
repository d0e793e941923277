"""Properties of the actor rules over random message sequences (SPEC §5, §6).

Each test replays a random script of (time step, message) pairs through `apply` and checks,
after every step, what the SPEC says must always hold, computed from the SPEC's wording
(a device is live while it has a socket or before its `expires_at`; the token bucket's
window bound) rather than from the rules' own helpers.
"""

from __future__ import annotations

import ast
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from presence_actors import conversation_rules, user_rules
from presence_actors.errors import RateLimited
from presence_actors.model import PresenceRecord, PresenceStatus, TypingRecord
from presence_actors.timing import Timing
from presence_actors.typing_index import TypingIndex

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
TIMING = Timing()
T0 = 1_700_000_000.0
EPSILON = 1e-5  # float noise of sums of steps on an epoch-sized T0
RULES = settings(max_examples=200, deadline=None)

# --- users -------------------------------------------------------------------------------

DEVICES = st.sampled_from(["a", "b", "c"])
USER_STEPS = st.sampled_from([0, 0.01, 4.99, 5, 9.99, 10, 59.9, 60, 600])
USER_MESSAGES = st.one_of(
    st.builds(user_rules.SetStatus, DEVICES, st.sampled_from(list(PresenceStatus))),
    st.builds(user_rules.Touch, DEVICES),
    st.builds(user_rules.Connect, DEVICES),
    st.builds(user_rules.Disconnect, DEVICES),
    st.just(user_rules.Expire()),
)
# An actor starts with what the store or a crashed predecessor last announced.
USER_STARTS = st.builds(
    user_rules.new_user,
    st.just(1),
    st.sampled_from([None, T0 - 3600]),
    st.sampled_from(list(PresenceStatus)),
)


@dataclass(frozen=True)
class UserScript:
    start: user_rules.UserState
    steps: list


USER_SCRIPTS = st.builds(
    UserScript, USER_STARTS, st.lists(st.tuples(USER_STEPS, USER_MESSAGES), min_size=1, max_size=40)
)


def held(state: user_rules.UserState) -> set[str]:
    """Devices with a socket open on a node that is not down."""
    return {
        device
        for (device, node), fact in state.replica.sockets.items()
        if fact.count > 0 and node not in state.down
    }


def live_devices(state: user_rules.UserState, now: float) -> dict:
    """SPEC §5: a device lives while it has an open socket, else until its expiry (a device
    posted offline is a tombstone: never live)."""
    sockets = held(state)
    return {
        key: fact
        for key, fact in state.replica.devices.items()
        if fact.status is not OFFLINE
        and (key in sockets or (fact.stamp.node not in state.down and fact.expires_at > now))
    }


def highest(devices: dict) -> PresenceStatus:
    statuses = {device.status for device in devices.values()}
    return ONLINE if ONLINE in statuses else AWAY if AWAY in statuses else OFFLINE


def replay_user(script: UserScript):
    """Yield (before, message, now, after, effects) for each step of a script."""
    state, now = script.start, T0
    for delta, message in script.steps:
        now += delta
        after, effects = user_rules.apply(state, message, now, TIMING)
        yield state, message, now, after, effects
        state = after


def of_type(effects, kind) -> list:
    return [effect for effect in effects if isinstance(effect, kind)]


@RULES
@given(USER_SCRIPTS)
def test_no_live_device_means_offline(script):
    for _, _, now, after, _ in replay_user(script):
        if not live_devices(after, now):
            assert after.status is OFFLINE


@RULES
@given(USER_SCRIPTS)
def test_aggregate_is_the_highest_live_device_status(script):
    for _, _, now, after, _ in replay_user(script):
        assert after.status is highest(live_devices(after, now))


@RULES
@given(USER_SCRIPTS)
def test_push_exactly_when_the_aggregate_differs_from_the_announced_one(script):
    for before, _, now, after, effects in replay_user(script):
        aggregate = highest(live_devices(after, now))
        pushes = [push.record for push in of_type(effects, user_rules.Push)]
        if aggregate is before.announced:
            assert pushes == []
        else:
            assert pushes == [after.record]
            assert after.record.status is aggregate
        assert after.announced is aggregate


@RULES
@given(USER_SCRIPTS)
def test_clear_typing_exactly_when_offline_is_announced(script):
    for before, _, _, after, effects in replay_user(script):
        went_offline = before.announced is not OFFLINE and after.announced is OFFLINE
        assert of_type(effects, user_rules.ClearTyping) == (
            [user_rules.ClearTyping(1)] if went_offline else []
        )


@RULES
@given(USER_SCRIPTS)
def test_the_persisted_record_always_follows_the_state(script):
    persisted = script.start.record
    for _, _, _, after, effects in replay_user(script):
        snapshots = [persist.record for persist in of_type(effects, user_rules.Persist)]
        assert snapshots == ([] if after.record == persisted else [after.record])
        persisted = after.record


@RULES
@given(USER_SCRIPTS)
def test_a_read_of_the_board_else_the_store_always_shows_the_actors_record(script):
    # A read takes the board's record, else the stored last_seen as offline (SPEC §5:
    # not live here means offline). Both are written only by the actor's effects.
    board: dict[int, PresenceRecord] = {}
    stored = script.start.record  # what the actor started from
    for _, _, _, after, effects in replay_user(script):
        for effect in effects:
            if isinstance(effect, user_rules.Publish):
                board[effect.record.user_id] = effect.record
            elif isinstance(effect, user_rules.Persist):
                stored = effect.record
        read = board.get(1) or PresenceRecord(1, OFFLINE, stored.last_seen)
        assert read == after.record


@RULES
@given(USER_SCRIPTS)
def test_last_seen_never_decreases_and_expiry_never_moves_it(script):
    for before, message, _, after, _ in replay_user(script):
        if before.last_seen is not None:
            assert after.last_seen >= before.last_seen
        if isinstance(message, user_rules.Expire):
            assert after.last_seen == before.last_seen


@RULES
@given(USER_SCRIPTS)
def test_last_seen_is_at_least_every_live_device_activity(script):
    for _, _, now, after, _ in replay_user(script):
        for device in live_devices(after, now).values():
            assert device.last_activity <= after.last_seen <= now


@RULES
@given(USER_SCRIPTS)
def test_a_live_device_without_a_socket_expires_after_now(script):
    for _, _, now, after, _ in replay_user(script):
        for key, device in live_devices(after, now).items():
            if key not in held(after):
                assert device.expires_at > now


@RULES
@given(USER_SCRIPTS)
def test_a_socketless_device_lives_its_ttl_or_its_grace_after_its_last_activity(script):
    for _, _, now, after, _ in replay_user(script):
        for device in live_devices(after, now).values():
            lifetime = device.expires_at - device.last_activity
            allowed = {TIMING.ttl(device.status), TIMING.after_last_socket(device.status)}
            assert any(abs(lifetime - expected) < EPSILON for expected in allowed)


@RULES
@given(USER_SCRIPTS)
def test_no_device_outlives_its_expiry(script):
    *_, (_, _, now, state, _) = replay_user(script)
    while (deadline := user_rules.next_deadline(state)) is not None:
        assert deadline > now
        state, _ = user_rules.apply(state, user_rules.Expire(), deadline, TIMING)
        now = deadline
        live = live_devices(state, now).items()
        assert all(d.expires_at > now for key, d in live if key not in held(state))
    assert set(live_devices(state, now)) <= held(state)


@RULES
@given(USER_SCRIPTS)
def test_status_updates_of_a_device_respect_the_minimum_interval(script):
    last: dict[str, float] = {}  # last accepted update of each device, offline included
    interval = TIMING.status_min_interval
    for _, message, now, _, effects in replay_user(script):
        if not isinstance(message, user_rules.SetStatus):
            continue
        [reply] = of_type(effects, user_rules.Answer)
        device, previous = message.device_id, last.get(message.device_id, -math.inf)
        if isinstance(reply.value, RateLimited):
            assert message.status is not OFFLINE
            assert now < previous + interval
            assert reply.value.retry_after == max(1, math.ceil(previous + interval - now))
        else:
            assert message.status is OFFLINE or now >= previous + interval
            last[device] = now


# --- conversations -----------------------------------------------------------------------

TYPERS = st.sampled_from([1, 2, 3])
TYPING_STEPS = st.sampled_from([0, 0.01, 0.5, 1, 4.9, 4.99, 5, 10])
TYPING_MESSAGES = st.one_of(
    st.builds(conversation_rules.SetTyping, TYPERS, st.booleans()),
    st.builds(conversation_rules.ClearUser, TYPERS),
    st.just(conversation_rules.Expire()),
)
TYPING_SCRIPTS = st.lists(st.tuples(TYPING_STEPS, TYPING_MESSAGES), min_size=1, max_size=60)


def replay_conversation(script):
    state, now = conversation_rules.new_conversation(10), T0
    for delta, message in script:
        now += delta
        after, effects = conversation_rules.apply(state, message, now, TIMING)
        yield state, message, now, after, effects
        state = after


def accepted(message, effects) -> bool:
    if not isinstance(message, conversation_rules.SetTyping):
        return False
    [reply] = of_type(effects, conversation_rules.Answer)
    return not isinstance(reply.value, RateLimited)


@RULES
@given(TYPING_SCRIPTS)
def test_the_typing_index_always_shows_the_actors_typers(script):
    index = TypingIndex()
    for _, _, _, after, effects in replay_conversation(script):
        for publish in of_type(effects, conversation_rules.Publish):
            index.publish(publish.conversation_id, publish.typers)
        assert index.typers(10) == after.typers


@RULES
@given(TYPING_SCRIPTS)
def test_typing_never_outlives_its_ttl(script):
    last_true: dict[int, float] = {}
    for _, message, now, after, effects in replay_conversation(script):
        if accepted(message, effects) and message.is_typing:
            last_true[message.user_id] = now
        for user_id, expires_at in after.typers.items():
            assert expires_at > now
            assert expires_at <= last_true[user_id] + TIMING.typing_ttl + EPSILON


@RULES
@given(TYPING_SCRIPTS)
def test_a_push_happens_exactly_when_a_users_typing_changes(script):
    expiry: dict[int, float] = {}  # the SPEC's typing state, kept beside the rules
    for _, message, now, after, effects in replay_conversation(script):
        expected = []
        for user_id in sorted(u for u, at in expiry.items() if at <= now):
            del expiry[user_id]
            expected.append(TypingRecord(user_id, 10, False))
        if isinstance(message, conversation_rules.ClearUser) or (
            accepted(message, effects) and not message.is_typing
        ):
            if expiry.pop(message.user_id, None) is not None:
                expected.append(TypingRecord(message.user_id, 10, False))
        elif accepted(message, effects):
            if message.user_id not in expiry:
                expected.append(TypingRecord(message.user_id, 10, True))
            expiry[message.user_id] = now + TIMING.typing_ttl
        pushes = [push.record for push in of_type(effects, conversation_rules.Push)]
        for user_id in {record.user_id for record in pushes + expected}:
            assert [p for p in pushes if p.user_id == user_id] == [
                e for e in expected if e.user_id == user_id
            ]
        assert len(pushes) == len(expected)
        assert set(after.typers) == set(expiry)


@RULES
@given(TYPING_SCRIPTS)
def test_pushes_alternate_true_false_per_user(script):
    last: dict[int, bool] = defaultdict(bool)
    for *_, effects in replay_conversation(script):
        for push in of_type(effects, conversation_rules.Push):
            assert push.record.is_typing is not last[push.record.user_id]
            last[push.record.user_id] = push.record.is_typing


def busiest_window(times: list[float], now: float) -> float:
    """max over windows [t, now] of (requests accepted in it + 1) - (burst + rate * length)."""
    burst, rate = TIMING.typing_burst, TIMING.typing_rate
    return max(
        (sum(1 for u in times if u >= t) + 1 - (burst + rate * (now - t)) for t in times),
        default=-math.inf,
    )


@RULES
@given(TYPING_SCRIPTS)
def test_a_request_is_refused_exactly_when_it_would_exceed_the_bucket(script):
    times: dict[int, list[float]] = defaultdict(list)
    for _, message, now, _, effects in replay_conversation(script):
        if not isinstance(message, conversation_rules.SetTyping):
            continue
        overshoot = busiest_window(times[message.user_id], now)
        if accepted(message, effects):
            assert overshoot <= EPSILON
            times[message.user_id].append(now)
        else:
            assert overshoot > -EPSILON


@RULES
@given(TYPING_SCRIPTS)
def test_accepted_requests_in_any_window_never_exceed_burst_plus_rate_times_window(script):
    times: dict[int, list[float]] = defaultdict(list)
    for _, message, now, _, effects in replay_conversation(script):
        if accepted(message, effects):
            times[message.user_id].append(now)
    burst, rate = TIMING.typing_burst, TIMING.typing_rate
    for accepted_at in times.values():
        for i, start in enumerate(accepted_at):
            for j in range(i, len(accepted_at)):
                window = accepted_at[j] - start
                assert j - i + 1 <= burst + rate * window + EPSILON


# --- purity ------------------------------------------------------------------------------

# The rules and every module they import: no trio, no I/O, no clock.
PURE = ("user_rules", "conversation_rules", "messages", "model", "timing", "errors", "bucket")
# The replicas and their writes, which the rules are made of (presence_actors/cluster/).
PURE_CLUSTER = ("user_replica", "user_writes", "typing_replica", "stamp")
STDLIB = {"__future__", "collections", "dataclasses", "datetime", "enum", "functools", "math",
          "types", "typing"}


def runtime_imports(module: str) -> set[str]:
    """What a module imports when it runs (`if TYPE_CHECKING:` blocks excluded); a module
    of this package as `.name`."""
    source = (Path(user_rules.__file__).parent / f"{module}.py").read_text()
    names: set[str] = set()
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.If) and ast.unparse(statement.test) == "TYPE_CHECKING":
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level and node.module == "cluster":
                names.update(f".cluster.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.add(f".{node.module}" if node.level else node.module.split(".")[0])
    return names


def test_the_rules_import_no_trio_and_no_io():
    # STYLE rule 1: state and a message in, state and effects out; `now` is an argument.
    allowed = STDLIB | {f".{module}" for module in PURE}
    allowed |= {f".cluster.{module}" for module in PURE_CLUSTER}
    for module in PURE:
        assert runtime_imports(module) <= allowed, module
    in_cluster = STDLIB | {f".{module}" for module in (*PURE, *PURE_CLUSTER)}
    for module in PURE_CLUSTER:
        assert runtime_imports(f"cluster/{module}") <= in_cluster, module
