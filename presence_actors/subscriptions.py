"""Subscriptions: a live connection's outbox in the fan-out index, its device connected.

Subscribing starts the subscriber's own actor (a connect is activity, SPEC §5) and no
other: the outbox is registered under the subscriber's user id in `Subscribers`, and since
visibility is symmetric, every user actor offers its changes to the outboxes of the users
it can see.

Connect and Disconnect pair on every path (issue 8.11). Checking the socket cap, sending
`Connect` and registering the outbox are one synchronous step, and the block that sends
`Disconnect` is entered right after it, before anything can be awaited: a subscription
cancelled while it waits for the actor (a client that resets the upgrade, a reply deadline
passed while the actor loads from a slow store) still disconnects. `Disconnect` goes to
the incarnation of the actor that counts the socket (`Subscribers` keeps which), so an
actor that was given up with the `Connect` still queued is never told to close a socket
it did not count, and its successor counts every socket still open. The same single step
makes the cap exact under concurrent subscriptions (issue 8.13).

`initial_state` is read after the actor answered. Frames offered to the outbox meanwhile
are dropped when it is read: it shows the same changes (the board, the typing index and the
directory are read before its first checkpoint, and every push follows its `Publish`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .actor import USER
from .errors import NotFound, TooManySockets
from .mailbox import ReplySlot
from .outbox import Outbox
from .reads import initial_state
from .registry import Registry
from .user_rules import Connect, Disconnect


@dataclass(slots=True)
class Subscription:
    """What a socket session drains: the `initial_state` frame first (the session may drop
    it once sent), then its outbox."""

    outbox: Outbox
    initial_frame: bytes


@asynccontextmanager
async def open_subscription(
    registry: Registry, user_id: int, device_id: str
) -> AsyncIterator[Subscription]:
    """A live connection: its device is connected for the duration of the block.

    Raises:
        NotFound: the user is not (any longer) in the directory.
        TooManySockets: the user already has `max_sockets_per_user` open subscriptions.
        ActorUnavailable: the user's actor is overloaded, failing, shutting down, or did
            not answer within `request_timeout` (the device is disconnected again).
    """
    context = registry.context
    if not context.directory.exists(user_id):
        raise NotFound(f"user {user_id} is not in the directory")
    if context.subscribers.sockets_of(user_id) >= context.timing.max_sockets_per_user:
        raise TooManySockets(f"user {user_id} has too many open connections")
    # One step, no checkpoint: Connect is sent (or refused, leaving nothing behind) and the
    # outbox registered under the cap checked above; the `finally` below undoes both.
    reply = ReplySlot()
    counted_by = registry.tell(USER, user_id, Connect(device_id, reply))
    outbox = Outbox(user_id, device_id)
    context.subscribers.add(outbox, counted_by)
    try:
        await reply.wait(context.timing.request_timeout)
        # What was offered while the actor answered, the snapshot shows (it reads the
        # board, the typing index and the directory before its first checkpoint).
        outbox.discard_pending()
        # No locals across the yield: this frame lives as long as the socket.
        yield Subscription(outbox, await initial_state(context, user_id))
    finally:
        counted_by = context.subscribers.remove(outbox)
        outbox.close()
        if counted_by is not None:
            disconnect = Disconnect(device_id, outbox.vanished)
            registry.tell_incarnation(USER, user_id, counted_by, disconnect)
