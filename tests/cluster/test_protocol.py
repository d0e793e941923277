"""The node protocol, sans-IO: messages and times in, actions out (NODE_TTL = 9 s here)."""

from __future__ import annotations

from presence_actors.cluster import (
    Delta,
    Facts,
    Goodbye,
    Heartbeat,
    NodeProtocol,
    PeerStatus,
    Snapshot,
    TransferRequest,
)
from presence_actors.cluster.protocol import (
    Announce,
    Apply,
    NodeDown,
    NodeUp,
    Reconnect,
    Restate,
    Send,
)

TTL = 9.0  # heartbeats every 3 s


def connected(now: float = 0.0) -> NodeProtocol:
    protocol = NodeProtocol("me", TTL)
    protocol.connected(now)
    return protocol


def asks(actions, node: str) -> bool:
    return Send(TransferRequest("me", node), to=node) in actions


def test_connecting_asks_everyone_announces_and_beats():
    protocol = NodeProtocol("me", TTL)
    assert protocol.next_deadline() == float("inf")  # nothing is due while disconnected
    actions = protocol.connected(100.0)
    assert actions == [
        Send(TransferRequest("me", None)),
        Announce(None),
        Send(Heartbeat("me", 0, "")),
    ]
    assert protocol.next_deadline() == 103.0


def test_heartbeats_every_third_of_the_ttl_carrying_the_latest_seq():
    protocol = connected()
    protocol.delta(Facts())
    protocol.delta(Facts())
    assert protocol.tick(2.9) == []
    assert protocol.tick(3.0) == [Send(Heartbeat("me", 2, ""))]
    assert protocol.tick(5.9) == []


def test_a_new_peer_without_history_is_not_asked_for_a_snapshot():
    protocol = connected()
    assert protocol.receive(Heartbeat("b", 0), 1.0) == [NodeUp("b")]
    assert protocol.receive(Delta("b", 1, Facts()), 1.5) == [Apply("b", Facts())]


def test_a_new_peer_with_history_is_asked_for_its_state():
    protocol = connected()
    actions = protocol.receive(Heartbeat("b", 7), 1.0)
    assert actions[0] == NodeUp("b") and asks(actions, "b")


def test_a_gap_asks_once_then_again_each_interval_until_the_snapshot_comes():
    protocol = connected()
    protocol.receive(Delta("b", 1, Facts()), 0.0)
    first = protocol.receive(Delta("b", 3, Facts()), 1.0)  # 2 went missing
    assert asks(first, "b") and Apply("b", Facts()) in first
    assert not asks(protocol.receive(Heartbeat("b", 3), 2.0), "b")  # already asked
    assert asks(protocol.tick(4.0), "b")  # no answer within an interval: ask again
    assert protocol.receive(Snapshot("b", 3, "me", Facts()), 4.5) == [Restate("b", Facts())]
    assert not asks(protocol.tick(8.0), "b")


def test_a_heartbeat_ahead_of_what_arrived_reveals_a_lost_last_delta():
    protocol = connected()
    protocol.receive(Delta("b", 1, Facts()), 0.0)
    assert asks(protocol.receive(Heartbeat("b", 2), 1.0), "b")


def test_a_peer_silent_for_the_ttl_is_down_and_not_before():
    protocol = connected()
    protocol.receive(Heartbeat("b", 0), 1.0)
    protocol.tick(9.999)
    assert protocol.peers["b"].status is PeerStatus.UP
    assert NodeDown("b") in protocol.tick(10.0)
    assert protocol.live_peers() == frozenset()
    assert protocol.down_peers() == {"b"}


def test_a_down_peer_that_speaks_again_is_up_and_asked_for_everything():
    protocol = connected()
    protocol.receive(Heartbeat("b", 0), 0.0)
    protocol.tick(9.0)
    actions = protocol.receive(Heartbeat("b", 0), 20.0)
    assert actions[0] == NodeUp("b") and asks(actions, "b")


def test_no_peer_is_declared_down_while_this_node_is_cut_off():
    protocol = connected()
    protocol.receive(Heartbeat("b", 0), 0.0)
    protocol.disconnected()
    assert protocol.tick(60.0) == []
    actions = protocol.connected(61.0)
    assert NodeDown("b") not in actions
    assert NodeDown("b") not in protocol.tick(69.9)
    assert NodeDown("b") in protocol.tick(70.0)  # a full TTL after reconnecting


def test_own_heartbeats_not_coming_back_mean_a_stale_subscription():
    protocol = connected()
    protocol.receive(Heartbeat("me", 0), 0.5)  # the echo of our own
    assert Reconnect() not in protocol.tick(9.0)
    assert Reconnect() in protocol.tick(9.5)


def test_transfer_requests_for_us_or_for_all_are_answered_with_a_snapshot():
    protocol = connected()
    assert Announce("b") in protocol.receive(TransferRequest("b", "me"), 1.0)
    assert Announce("c") in protocol.receive(TransferRequest("c", None), 1.0)
    assert Announce("b") not in protocol.receive(TransferRequest("b", "c"), 1.0)


def test_a_snapshot_for_another_node_is_not_ours_to_apply():
    protocol = connected()
    actions = protocol.receive(Snapshot("b", 4, "c", Facts()), 1.0)
    assert all(not isinstance(a, Restate) for a in actions)


def test_goodbye_is_down_at_once_and_forgotten():
    protocol = connected()
    protocol.receive(Heartbeat("b", 0), 0.0)
    assert protocol.receive(Goodbye("b"), 1.0) == [NodeDown("b")]
    assert "b" not in protocol.peers
    assert protocol.receive(Goodbye("b"), 1.0) == []


def test_a_long_dead_peer_is_forgotten():
    protocol = connected()
    protocol.receive(Heartbeat("b", 0), 0.0)
    protocol.tick(9.0)
    protocol.tick(90.0)
    assert "b" not in protocol.peers


def test_own_deltas_are_numbered_from_one():
    protocol = NodeProtocol("me", TTL)
    assert protocol.delta(Facts()).seq == 1
    assert protocol.delta(Facts()).seq == 2
    assert protocol.snapshot(Facts(), None) == Snapshot("me", 2, None, Facts())


def test_node_ids_are_new_at_every_start():
    from presence_actors.cluster import new_node_id

    ids = {new_node_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 8 for i in ids)
