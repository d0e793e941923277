"""Subscriptions: a live connection's outbox in the fan-out index, its device connected.

Subscribing starts the subscriber's own actor (a connect is activity, SPEC §5) and no
other: the outbox is registered under the subscriber's user id in `Subscribers`, and since
visibility is symmetric, every user actor offers its changes to the outboxes of the users
it can see. Registering and reading `initial_state` happen before the first checkpoint,
so no change between the snapshot and the first update is lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .actor import USER
from .errors import TooManySockets
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
        TooManySockets: the user already has `max_sockets_per_user` open subscriptions.
        ActorUnavailable: the user's actor is overloaded, failing or shutting down.
    """
    context = registry.context
    if context.subscribers.sockets_of(user_id) >= context.timing.max_sockets_per_user:
        raise TooManySockets(f"user {user_id} has too many open connections")
    await registry.ask(USER, user_id, lambda r: Connect(device_id, r))
    outbox = Outbox(user_id, device_id)
    try:
        # Register, then snapshot before the first checkpoint: every later change reaches
        # the outbox. No locals across the yield: this frame lives as long as the socket.
        context.subscribers.add(outbox)
        yield Subscription(outbox, await initial_state(context, user_id))
    finally:
        context.subscribers.remove(outbox)
        outbox.close()
        registry.tell_reliably(USER, user_id, Disconnect(device_id))
