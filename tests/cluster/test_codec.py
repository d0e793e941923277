"""Node messages survive the wire, and garbage on a channel is a ProtocolError, never a crash."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presence_actors.cluster import (
    Delta,
    Facts,
    Goodbye,
    Heartbeat,
    ProtocolError,
    Snapshot,
    TransferRequest,
    decode,
    encode,
)
from presence_actors.cluster.codec import delta_prefix

from .strategies import fact_batches

MESSAGES = st.one_of(
    st.builds(Delta, st.just("n1"), st.integers(1, 10**6), fact_batches()),
    st.builds(Heartbeat, st.just("n1"), st.integers(0, 10**6), st.text(max_size=20)),
    st.builds(TransferRequest, st.just("n1"), st.none() | st.just("n2")),
    st.builds(
        Snapshot, st.just("n1"), st.integers(0, 99), st.none() | st.just("n2"), fact_batches()
    ),
    st.builds(Goodbye, st.just("n1")),
)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_every_message_round_trips(message):
    assert decode(encode(message)) == message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{}",
        b"[]",
        b"[2, \"g\", \"n1\"]",  # another version
        b"[1, \"x\", \"n1\"]",  # unknown kind
        b"[1, \"g\"]",
        b"[1, \"g\", \"\"]",  # empty node id
        b"[1, \"h\", \"n1\", \"7\", \"\"]",  # seq as a string
        b"[1, \"h\", \"n1\", true, \"\"]",  # seq as a boolean
        b"[1, \"d\", \"n1\", 1, []]",
        b"[1, \"d\", \"n1\", 1, {\"u\": [[1, null, [[\"p\"]], []]], \"c\": []}]",
        b"[1, \"d\", \"n1\", 1, {\"u\": [[1, null, [[\"p\", 1, 0, \"n\", \"busy\", 1, 1, 1]], []]],"
        b" \"c\": []}]",  # unknown status
        b"[1, \"s\", \"n1\", 1, 5, {\"u\": [], \"c\": []}]",  # `to` not a node id
    ],
)
def test_malformed_messages_are_refused(data):
    with pytest.raises(ProtocolError):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=20,
).map(lambda value: orjson.dumps([1, *value] if isinstance(value, list) else value)))
def test_nothing_on_the_bus_raises_anything_but_protocol_error(data):
    with contextlib.suppress(ProtocolError):
        decode(data)


def test_an_empty_delta_is_small():
    assert len(encode(Delta("n1", 1, Facts()))) < 40


@settings(max_examples=200, deadline=None)
@given(MESSAGES, st.sampled_from(["n1", "n", "n11", "n2"]))
def test_the_delta_prefix_picks_out_exactly_one_node_s_deltas(message, node):
    mine = isinstance(message, Delta) and message.node == node
    assert encode(message).startswith(delta_prefix(node)) is mine
