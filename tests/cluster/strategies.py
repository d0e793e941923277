"""Hypothesis strategies for replicas and facts: few nodes, devices and users, so that
random writes collide on the same registers as often as real ones do."""

from __future__ import annotations

from hypothesis import strategies as st

from presence_actors.cluster import (
    ConversationReplica,
    DeviceFact,
    Facts,
    SocketFact,
    Stamp,
    TypingFact,
    UserReplica,
)
from presence_actors.model import PresenceStatus

T0 = 1_700_000_000.0
NODES = st.sampled_from(["a", "b", "c"])
DEVICES = st.sampled_from(["phone", "laptop", "default"])
TIMES = st.sampled_from([T0, T0 + 1, T0 + 5, T0 + 60.5, T0 + 600])
OPTIONAL_TIMES = st.none() | TIMES
STAMPS = st.builds(Stamp, TIMES, st.integers(0, 2), NODES)

DEVICE_FACTS = st.builds(
    DeviceFact, STAMPS, st.sampled_from(list(PresenceStatus)), TIMES, TIMES, OPTIONAL_TIMES
)


@st.composite
def socket_facts(draw) -> dict:
    """(device, node) -> count, stamped by that node (only the holding node writes it)."""
    keys = draw(st.sets(st.tuples(DEVICES, NODES), max_size=4))
    return {
        (device, node): SocketFact(
            Stamp(draw(TIMES), draw(st.integers(0, 2)), node), draw(st.integers(0, 3))
        )
        for device, node in keys
    }


def user_replicas(user_id: int = 7) -> st.SearchStrategy[UserReplica]:
    sockets = socket_facts()
    return st.builds(
        UserReplica,
        st.just(user_id),
        st.dictionaries(DEVICES, DEVICE_FACTS, max_size=3),
        sockets,
        OPTIONAL_TIMES,
    )


def conversation_replicas(conversation_id: int = 10) -> st.SearchStrategy[ConversationReplica]:
    facts = st.builds(TypingFact, STAMPS, OPTIONAL_TIMES)
    typers = st.dictionaries(st.integers(1, 3), facts, max_size=3)
    return st.builds(ConversationReplica, st.just(conversation_id), typers)


@st.composite
def fact_batches(draw) -> Facts:
    users = {uid: draw(user_replicas(uid)) for uid in draw(st.sets(st.integers(1, 4), max_size=3))}
    conversations = {
        cid: draw(conversation_replicas(cid))
        for cid in draw(st.sets(st.integers(10, 12), max_size=2))
    }
    return Facts(users, conversations)
