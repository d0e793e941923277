"""Three nodes end where one node would (issue 11): a random sequence of status, socket and
typing operations, each made on a random node, gives the same presence as the single-node
rules (`user_rules`, `conversation_rules`) given the same sequence.

Between operations every node receives the writer's delta, as nodes whose deltas have
arrived do; a second test then delivers all deltas late, shuffled and duplicated, and
checks that every node still converges to the same view.
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from presence_actors import conversation_rules, user_rules
from presence_actors.cluster import (
    ConversationReplica,
    UserReplica,
    typing_replica,
    user_replica,
    user_writes,
)
from presence_actors.errors import RateLimited
from presence_actors.messages import Answer
from presence_actors.model import PresenceStatus
from presence_actors.timing import Timing

from .strategies import T0

TIMING = Timing()
NODES = ("a", "b", "c")
STEPS = st.sampled_from([0, 0.01, 1, 4.99, 5, 9.99, 10, 59.9, 60, 600])
OPS = st.tuples(
    STEPS,
    st.sampled_from(NODES),
    st.sampled_from(["status", "touch", "connect", "disconnect"]),
    st.sampled_from(["phone", "laptop"]),
    st.sampled_from(list(PresenceStatus)),
)
EQUIVALENCE = settings(max_examples=400, deadline=None)


def single_step(state, op, device, status, now):
    """One operation on the single node; returns (state, refusal or None)."""
    message = {
        "status": lambda: user_rules.SetStatus(device, status),
        "touch": lambda: user_rules.Touch(device),
        "connect": lambda: user_rules.Connect(device),
        "disconnect": lambda: user_rules.Disconnect(device),
    }[op]()
    state, effects = user_rules.apply(state, message, now, TIMING)
    answers = [e.value for e in effects if isinstance(e, Answer)]
    refusals = [value for value in answers if isinstance(value, Exception)]
    return state, (refusals[0].retry_after if refusals else None)


def cluster_write(replica, node, op, device, status, now):
    """The same operation as a write on `node`; returns (delta, refusal or None)."""
    try:
        if op == "status":
            return user_writes.set_status(replica, node, device, status, now, TIMING), None
        write = getattr(user_writes, op)
        return write(replica, node, device, now, TIMING), None
    except RateLimited as limited:
        return UserReplica(replica.user_id), limited.retry_after


def single_view(state, now):
    state, _ = user_rules.apply(state, user_rules.Expire(), now, TIMING)
    return user_rules.live_devices(state, now), state.status, state.last_seen


def cluster_view(replica, now):
    return (
        user_replica.live_devices(replica, now),
        user_replica.aggregate(replica, now),
        replica.last_seen,
    )


@EQUIVALENCE
@given(st.lists(OPS, max_size=40))
def test_three_nodes_decide_what_one_node_decides(ops):
    now = T0
    single = user_rules.new_user(1)
    replicas = dict.fromkeys(NODES, UserReplica(1))
    sockets: Counter = Counter()  # (node, device) -> open sockets, to close real ones only
    for step, node, op, device, status in ops:
        now += step
        if op == "disconnect":
            holders = [n for n in NODES if sockets[(n, device)] > 0]
            node = holders[0] if holders else node
        single, refused = single_step(single, op, device, status, now)
        delta, cluster_refused = cluster_write(replicas[node], node, op, device, status, now)
        assert cluster_refused == refused
        if op in ("connect", "disconnect") and delta.sockets:
            sockets[(node, device)] += 1 if op == "connect" else -1
        replicas = {n: user_replica.merge(r, delta) for n, r in replicas.items()}
        for replica in replicas.values():
            assert cluster_view(replica, now) == single_view(single, now)
    later = now + 700  # every device without a socket has expired
    for replica in replicas.values():
        assert cluster_view(replica, later) == single_view(single, later)


@EQUIVALENCE
@given(st.lists(OPS, max_size=30), st.randoms(use_true_random=False))
def test_late_shuffled_and_repeated_deltas_converge(ops, rng: random.Random):
    now = T0
    writer_views = dict.fromkeys(NODES, UserReplica(1))
    deltas = []
    for step, node, op, device, status in ops:
        now += step
        delta, _ = cluster_write(writer_views[node], node, op, device, status, now)
        writer_views[node] = user_replica.merge(writer_views[node], delta)
        deltas.append(delta)
    finals = []
    for _ in NODES:
        shuffled = deltas + rng.sample(deltas, k=len(deltas) // 2)
        rng.shuffle(shuffled)
        replica = UserReplica(1)
        for delta in shuffled:
            replica = user_replica.merge(replica, delta)
        finals.append(replica)
    assert finals[0] == finals[1] == finals[2]
    everything = UserReplica(1)
    for delta in deltas:
        everything = user_replica.merge(everything, delta)
    assert finals[0] == everything


TYPING_OPS = st.tuples(
    st.sampled_from([0, 0.5, 1, 4.99, 5, 6]),
    st.sampled_from(NODES),
    st.integers(1, 3),
    st.booleans(),
)


@EQUIVALENCE
@given(st.lists(TYPING_OPS, max_size=40))
def test_typing_over_three_nodes_is_typing_on_one(ops):
    now = T0
    single = conversation_rules.new_conversation(10)
    replicas = dict.fromkeys(NODES, ConversationReplica(10))
    for step, node, user_id, is_typing in ops:
        now += step
        typing = conversation_rules.SetTyping(user_id, is_typing, admitted=True)  # no bucket
        single, _ = conversation_rules.apply(single, typing, now, TIMING)
        delta = typing_replica.set_typing(replicas[node], node, user_id, is_typing, now, TIMING)
        replicas = {n: typing_replica.merge(r, delta) for n, r in replicas.items()}
        for replica in replicas.values():
            assert typing_replica.typers(replica, now) == dict(single.typers)
    later = now + TIMING.typing_ttl
    for replica in replicas.values():
        assert typing_replica.typers(replica, later) == {}
