"""The writes and the view, on the SPEC's examples, across nodes."""

from __future__ import annotations

import pytest

from presence_actors.cluster import ConversationReplica, UserReplica, typing_replica, user_replica
from presence_actors.cluster import user_writes as writes
from presence_actors.errors import RateLimited
from presence_actors.model import PresenceStatus
from presence_actors.timing import Timing

from .strategies import T0

TIMING = Timing()
ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


def run(replica: UserReplica, *deltas: UserReplica) -> UserReplica:
    for delta in deltas:
        replica = user_replica.merge(replica, delta)
    return replica


def step(replica, write, *args, now, node="a"):
    """Apply one write made on `node` and return the merged replica."""
    if write is writes.set_status:
        device, status = args
        return run(replica, write(replica, node, device, status, now, TIMING))
    return run(replica, write(replica, node, *args, now, TIMING))


def test_the_rate_window_survives_a_connect_after_going_offline():
    r = step(UserReplica(1), writes.set_status, "phone", OFFLINE, now=T0)
    r = step(r, writes.connect, "phone", now=T0 + 1, node="b")  # back online by its socket
    assert user_replica.aggregate(r, T0 + 1) is ONLINE
    with pytest.raises(RateLimited) as refused:
        writes.set_status(r, "c", "phone", AWAY, T0 + 2, TIMING)
    assert refused.value.retry_after == 3
    assert writes.set_status(r, "c", "phone", AWAY, T0 + 5, TIMING)


def test_a_device_lives_while_any_node_holds_a_socket_for_it():
    r = step(UserReplica(1), writes.connect, "phone", now=T0, node="a")
    r = step(r, writes.connect, "phone", now=T0 + 1, node="b")
    r = step(r, writes.disconnect, "phone", now=T0 + 2, node="a")
    assert user_replica.aggregate(r, T0 + 500) is ONLINE  # b still holds one
    r = step(r, writes.disconnect, "phone", now=T0 + 600, node="b")
    assert user_replica.aggregate(r, T0 + 609.9) is ONLINE  # the disconnect grace
    assert user_replica.aggregate(r, T0 + 610) is OFFLINE
    assert r.last_seen == T0 + 600


def test_a_device_posted_offline_stays_offline_with_its_socket_open_until_it_acts():
    r = step(UserReplica(1), writes.connect, "phone", now=T0)
    r = step(r, writes.set_status, "phone", OFFLINE, now=T0 + 1, node="b")
    assert user_replica.aggregate(r, T0 + 2) is OFFLINE
    closed = step(r, writes.disconnect, "phone", now=T0 + 4)  # its close is no activity
    assert closed.last_seen == T0 + 1
    r = step(r, writes.touch, "phone", now=T0 + 3)  # a frame from it is (issue 8 item 6)
    assert user_replica.aggregate(r, T0 + 3) is ONLINE


def test_a_down_node_takes_its_sockets_and_its_own_writes_with_it():
    r = step(UserReplica(1), writes.connect, "phone", now=T0, node="a")  # socket on a
    r = step(r, writes.set_status, "laptop", ONLINE, now=T0, node="a")  # REST through a
    r = step(r, writes.connect, "tablet", now=T0, node="b")  # socket on b
    r = step(r, writes.set_status, "tablet", AWAY, now=T0 + 1, node="a")  # written by a
    down = frozenset({"a"})
    r = user_replica.forget_node(r, "a")
    # phone: its socket was on a; laptop: last written by a; tablet: b's socket keeps it.
    assert user_replica.live_devices(r, T0 + 2, down) == {"tablet": AWAY}
    # Should a come back, its writes count again (its sockets come back with its snapshot).
    everything = {"phone": ONLINE, "laptop": ONLINE, "tablet": AWAY}
    assert user_replica.live_devices(r, T0 + 2) == everything


def test_a_device_written_by_a_live_node_outlives_the_node_that_held_its_socket():
    r = step(UserReplica(1), writes.connect, "phone", now=T0, node="a")
    r = step(r, writes.touch, "phone", now=T0 + 10, node="b")  # a typing POST through b
    r = user_replica.forget_node(r, "a")
    down = frozenset({"a"})
    assert user_replica.aggregate(r, T0 + 69.9, down) is ONLINE  # online TTL from b's write
    assert user_replica.aggregate(r, T0 + 70, down) is OFFLINE


def test_next_deadline_is_the_next_expiry_or_window():
    r = step(UserReplica(1), writes.set_status, "phone", AWAY, now=T0)
    assert user_replica.next_deadline(r, T0, TIMING) == T0 + 5  # the rate window
    assert user_replica.next_deadline(r, T0 + 5, TIMING) == T0 + 600  # the away TTL
    assert user_replica.next_deadline(r, T0 + 600, TIMING) is None


def test_prune_keeps_what_can_still_matter():
    r = step(UserReplica(1), writes.set_status, "phone", OFFLINE, now=T0)
    assert user_replica.prune(r, T0 + 4, TIMING) is r  # the window is open
    assert user_replica.prune(r, T0 + 599, TIMING) is r  # an older write may still be live
    assert not user_replica.prune(r, T0 + 601, TIMING).devices
    held = step(r, writes.connect, "phone", now=T0 + 1)
    held = step(held, writes.set_status, "phone", OFFLINE, now=T0 + 6)
    assert user_replica.prune(held, T0 + 5000, TIMING).devices  # its socket is still open


def test_own_facts_are_what_a_node_wrote_and_still_stands():
    r = step(UserReplica(1), writes.connect, "phone", now=T0, node="a")
    r = step(r, writes.set_status, "phone", AWAY, now=T0 + 1, node="b")
    a = user_replica.own_facts(r, "a")
    assert set(a.sockets) == {("phone", "a")} and not a.devices  # b's write replaced a's
    assert set(user_replica.own_facts(r, "b").devices) == {"phone"}


def test_typing_from_a_down_node_stops_at_once():
    c = ConversationReplica(10)
    c = typing_replica.merge(c, typing_replica.set_typing(c, "a", 1, True, T0, TIMING))
    c = typing_replica.merge(c, typing_replica.set_typing(c, "b", 2, True, T0, TIMING))
    assert typing_replica.typers(c, T0 + 1, frozenset({"a"})) == {2: T0 + 5}
    assert typing_replica.next_deadline(c, T0) == T0 + 5
    assert typing_replica.prune(c, T0 + 5, TIMING).typers == {}
