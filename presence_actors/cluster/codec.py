"""Node messages to bytes and back (compact JSON lists through orjson).

Anything can arrive on a Redis channel, so `decode` checks every field and raises
`ProtocolError` for what is not a message of this version; the bus drops such a message
and counts it, and the node carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ..model import PresenceStatus
from .facts import Facts
from .node_messages import Delta, Goodbye, Heartbeat, NodeMessage, Snapshot, TransferRequest
from .stamp import Stamp
from .typing_replica import ConversationReplica, TypingFact
from .user_replica import NO_FACTS, DeviceFact, SocketFact, UserReplica

VERSION = 1


class ProtocolError(ValueError):
    """Bytes on the bus that are not a node message of this version."""


def encode(message: NodeMessage) -> bytes:
    match message:
        case Delta(node, seq, facts):
            body: list = ["d", node, seq, _facts(facts)]
        case Heartbeat(node, seq, info):
            body = ["h", node, seq, info]
        case TransferRequest(node, target):
            body = ["t", node, target]
        case Snapshot(node, seq, to, facts):
            body = ["s", node, seq, to, _facts(facts)]
        case Goodbye(node):
            body = ["g", node]
        case _:
            raise TypeError(f"not a node message: {message!r}")
    return orjson.dumps([VERSION, *body])


def delta_prefix(node: str) -> bytes:
    """How every encoded `Delta` from `node` begins: a node's own deltas come back to it
    through the shared channel, and it drops them on this prefix without decoding them
    (`NodeProtocol.receive` would ignore them after a full decode)."""
    return orjson.dumps([VERSION, "d", node])[:-1] + b","


def decode(data: bytes | str) -> NodeMessage:
    """Raises:
    ProtocolError: not valid JSON, another version, or a field of the wrong shape."""
    try:
        version, kind, *rest = orjson.loads(data)
        if version != VERSION:
            raise ProtocolError(f"unsupported version {version!r}")
        return _DECODERS[kind](*rest)
    except ProtocolError:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"malformed node message: {error}") from None


# --- encoding ----------------------------------------------------------------------------


def _facts(facts: Facts) -> dict:
    return {
        "u": [_user(r) for r in facts.users.values()],
        "c": [_conversation(r) for r in facts.conversations.values()],
    }


def _user(r: UserReplica) -> list:
    devices = [
        [d, *f.stamp.as_list(), f.status.value, f.last_activity, f.expires_at, f.status_at]
        for d, f in r.devices.items()
    ]
    sockets = [[d, n, f.stamp.time, f.stamp.count, f.count] for (d, n), f in r.sockets.items()]
    return [r.user_id, r.last_seen, devices, sockets]


def _conversation(r: ConversationReplica) -> list:
    return [r.conversation_id, [[u, *f.stamp.as_list(), f.expires_at] for u, f in r.typers.items()]]


# --- decoding ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"expected a non-empty string, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ProtocolError(f"expected an integer, got {value!r}")
    return value


def _number(value: Any) -> float:
    if type(value) not in (int, float):
        raise ProtocolError(f"expected a number, got {value!r}")
    return float(value)


def _optional_number(value: Any) -> float | None:
    return None if value is None else _number(value)


def _stamp(time: Any, count: Any, node: Any) -> Stamp:
    return Stamp(_number(time), _int(count), _text(node))


def _decode_facts(raw: Any) -> Facts:
    users = {}
    for user_id, last_seen, devices, sockets in raw["u"]:
        replica = UserReplica(
            _int(user_id),
            {
                _text(d): DeviceFact(
                    _stamp(t, c, n), PresenceStatus(s), _number(a), _number(e), _optional_number(w)
                )
                for d, t, c, n, s, a, e, w in devices
            }
            or NO_FACTS,
            {
                (_text(d), _text(n)): SocketFact(_stamp(t, c, n), _int(k))
                for d, n, t, c, k in sockets
            }
            or NO_FACTS,
            _optional_number(last_seen),
        )
        users[replica.user_id] = replica
    conversations = {}
    for conversation_id, typers in raw["c"]:
        replica = ConversationReplica(
            _int(conversation_id),
            {_int(u): TypingFact(_stamp(t, c, n), _optional_number(e)) for u, t, c, n, e in typers}
            or NO_FACTS,
        )
        conversations[replica.conversation_id] = replica
    return Facts(users or NO_FACTS, conversations or NO_FACTS)


_DECODERS: dict[str, Callable[..., NodeMessage]] = {
    "d": lambda node, seq, facts: Delta(_text(node), _int(seq), _decode_facts(facts)),
    "h": lambda node, seq, info: Heartbeat(_text(node), _int(seq), str(info)),
    "t": lambda node, target: TransferRequest(_text(node), _optional_text(target)),
    "s": lambda node, seq, to, facts: Snapshot(
        _text(node), _int(seq), _optional_text(to), _decode_facts(facts)
    ),
    "g": lambda node: Goodbye(_text(node)),
}
