"""The façade the web layer calls: every method sends to an actor or reads a published
view, and every wait is bounded. Nothing here touches an actor's state.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from . import conversation_rules, user_rules
from .clock import WallClock
from .context import ActorContext
from .conversation_actor import ConversationActor
from .directory import Directory
from .errors import ActorUnavailable, NotFound, RateLimited, TooManySockets
from .model import PresenceRecord, PresenceStatus, TypingRecord, format_time
from .outbox import Outbox
from .ports import PresenceStore
from .registry import CONVERSATION, USER, Registry
from .supervisor import open_supervisor
from .timing import Timing
from .user_actor import UserActor
from .wire import initial_state_frame


@dataclass(frozen=True, slots=True)
class PresenceView:
    """One user as a presence read shows it to one viewer."""

    user_id: int
    status: PresenceStatus
    last_seen: float | None
    is_typing: bool

    def as_json(self) -> dict:
        return {
            "user_id": self.user_id,
            "status": self.status.value,
            "last_seen": format_time(self.last_seen),
            "is_typing": self.is_typing,
        }


@dataclass(frozen=True, slots=True)
class ServiceStatistics:
    user_actors: int
    conversation_actors: int
    actors_started: int
    actors_retired: int
    restarts: int
    given_up: int
    subscribers: int
    presence_pushes: int
    typing_pushes: int
    deliveries: int
    rate_limited: int
    rejected_busy: int


@dataclass(slots=True)
class Subscription:
    outbox: Outbox
    initial_frame: bytes


class PresenceService:
    def __init__(self, registry: Registry, context: ActorContext) -> None:
        self.registry = registry
        self.context = context
        self.store = context.store
        self._directory_loaded_at = -math.inf
        self._directory_lock = trio.Lock()

    @property
    def running(self) -> bool:
        """True until shutdown begins (for readiness)."""
        return not self.registry.closing

    # --- directory -----------------------------------------------------------------------

    @property
    def directory(self) -> Directory:
        return self.context.directory

    async def refresh_directory(self, force: bool = False) -> Directory:
        """Reload the directory; without `force`, at most once a second (coalesced)."""
        requested_at = trio.current_time()
        async with self._directory_lock:
            fresh = self._directory_loaded_at >= requested_at - (0 if force else 1.0)
            if not fresh:
                data = await self.store.load_directory()
                # Unchanged (the usual case): keep the snapshot and its cached visible sets
                # rather than rebuild them on the actors' thread every 30 s.
                if data != self.context.directory.data:
                    self.context.directory = Directory(data)
                self._directory_loaded_at = trio.current_time()
        return self.context.directory

    async def _visible(self, viewer: int, target: int) -> bool:
        """Can `viewer` see `target`? A denial is re-checked against a fresh directory."""
        if self.directory.can_see(viewer, target):
            return True
        return (await self.refresh_directory()).can_see(viewer, target)

    async def keep_directory_fresh(self) -> None:
        """Reload the directory every `directory_refresh` seconds, forever."""
        while True:
            await trio.sleep(self.context.timing.directory_refresh)
            await self.refresh_directory(force=True)

    # --- presence ------------------------------------------------------------------------

    async def set_status(
        self, user_id: int, device_id: str, status: PresenceStatus
    ) -> PresenceRecord:
        try:
            return await self.registry.ask(
                USER, user_id, lambda r: user_rules.SetStatus(device_id, status, r)
            )
        except RateLimited:
            self.context.counters.rate_limited += 1
            raise

    async def touch(self, user_id: int, device_id: str) -> None:
        """Activity on a device (a typing POST, a WebSocket frame). A user with no live actor
        has no live device to extend, unless their actor was given up under open sockets:
        then this starts a fresh one, which rebuilds the devices from those sockets."""
        live = self.registry.live(USER, user_id) is not None
        if live or self.context.subscribers.sockets_of(user_id):
            self.registry.tell(USER, user_id, user_rules.Touch(device_id))

    async def presences(
        self, viewer: int, user_ids: Iterable[int] | None = None
    ) -> list[PresenceView]:
        """What `viewer` may see of these users (all visible when None), by ascending id."""
        visible = self.directory.visible(viewer)
        if user_ids is None:
            wanted = sorted(visible)
        else:
            wanted = sorted(set(user_ids))
            if any(uid not in visible for uid in wanted):
                visible = (await self.refresh_directory()).visible(viewer)
            wanted = [uid for uid in wanted if uid in visible]
        return await self._views(viewer, wanted)

    async def presence(self, viewer: int, user_id: int) -> PresenceView:
        if not await self._visible(viewer, user_id):
            raise NotFound(f"user {user_id} not found")
        return (await self._views(viewer, [user_id]))[0]

    async def _views(self, viewer: int, user_ids: list[int]) -> list[PresenceView]:
        records = await self._records(user_ids)
        conversations = self.directory.conversations_of(viewer)
        typing = self.context.typing
        return [
            PresenceView(
                uid,
                records[uid].status,
                records[uid].last_seen,
                typing.is_typing_in_any(uid, conversations),
            )
            for uid in user_ids
        ]

    async def _records(self, user_ids: list[int]) -> dict[int, PresenceRecord]:
        board = self.context.board
        records = {uid: board[uid] for uid in user_ids if uid in board}
        missing = [uid for uid in user_ids if uid not in records]
        if missing:
            stored = await self.store.load_presence(missing)
            for uid in missing:
                record = stored.get(uid)
                # Not live here means offline, whatever a stale row says.
                last_seen = record.last_seen if record else None
                records[uid] = PresenceRecord(uid, PresenceStatus.OFFLINE, last_seen)
        return records

    # --- typing --------------------------------------------------------------------------

    async def set_typing(
        self, user_id: int, conversation_id: int, is_typing: bool, device_id: str | None = None
    ) -> conversation_rules.TypingResult:
        """Typing for a participant (else NotFound); an accepted one is activity too."""
        if not self.directory.is_participant(user_id, conversation_id):
            directory = await self.refresh_directory()
            if not directory.is_participant(user_id, conversation_id):
                raise NotFound(f"conversation {conversation_id} not found")
        try:
            result = await self.registry.ask(
                CONVERSATION,
                conversation_id,
                lambda r: conversation_rules.SetTyping(user_id, is_typing, r),
            )
        except RateLimited:
            self.context.counters.rate_limited += 1
            raise
        if device_id is not None:
            await self.touch(user_id, device_id)
        return result

    # --- subscriptions -------------------------------------------------------------------

    def socket_count(self, user_id: int) -> int:
        return self.context.subscribers.sockets_of(user_id)

    @asynccontextmanager
    async def subscribe(self, user_id: int, device_id: str) -> AsyncIterator[Subscription]:
        """A live connection: its device is connected for the duration of the block."""
        context = self.context
        if context.subscribers.sockets_of(user_id) >= context.timing.max_sockets_per_user:
            raise TooManySockets(f"user {user_id} has too many open connections")
        await self.registry.ask(USER, user_id, lambda r: user_rules.Connect(device_id, r))
        outbox = Outbox(user_id, device_id)
        try:
            # Register, then snapshot before the first checkpoint: every later change
            # reaches the outbox. No locals across the yield: this frame lives as long as
            # the socket does.
            context.subscribers.add(outbox)
            yield Subscription(outbox, await self._initial_frame(user_id))
        finally:
            context.subscribers.remove(outbox)
            outbox.close()
            self.registry.tell_reliably(USER, user_id, user_rules.Disconnect(device_id))

    async def _initial_frame(self, user_id: int) -> bytes:
        """`initial_state` for this user; the board is read before the first checkpoint."""
        visible = sorted(self.directory.visible(user_id))
        board = self.context.board
        live = {uid: board[uid] for uid in visible if uid in board}  # O(visible), not O(all)
        typing = self._typing_for(user_id)
        missing = [uid for uid in visible if uid not in live]
        stored = await self.store.load_presence(missing) if missing else {}
        presences = [
            live.get(uid)
            or PresenceRecord(
                uid, PresenceStatus.OFFLINE, stored[uid].last_seen if uid in stored else None
            )
            for uid in visible
        ]
        typing_users = frozenset(t.user_id for t in typing)
        return initial_state_frame(presences, typing, typing_users)

    def _typing_for(self, user_id: int) -> list[TypingRecord]:
        """Current typers in the user's conversations, the user's own typing excluded."""
        index = self.context.typing
        return [
            TypingRecord(uid, cid, True)
            for cid in sorted(self.directory.conversations_of(user_id))
            for uid in sorted(index.typers(cid))
            if uid != user_id
        ]

    # --- health --------------------------------------------------------------------------

    def statistics(self) -> ServiceStatistics:
        registry, counters = self.registry.statistics(), self.context.counters
        supervisor = self.registry.supervisor.statistics()
        return ServiceStatistics(
            user_actors=registry.users,
            conversation_actors=registry.conversations,
            actors_started=registry.started,
            actors_retired=registry.retired,
            restarts=supervisor.restarts,
            given_up=supervisor.given_up,
            subscribers=self.context.subscribers.statistics().sockets,
            presence_pushes=counters.presence_pushes,
            typing_pushes=counters.typing_pushes,
            deliveries=counters.deliveries,
            rate_limited=counters.rate_limited,
            rejected_busy=counters.rejected_busy,
        )


@asynccontextmanager
async def open_presence(
    store: PresenceStore,
    timing: Timing | None = None,
    clock: WallClock | None = None,
    stop_timeout: float = 5.0,
) -> AsyncIterator[PresenceService]:
    """Run the supervisor and the registry; on exit, actors drain their queues and stop."""
    timing = timing or Timing()
    context = ActorContext(store=store, clock=clock or WallClock(), timing=timing)
    async with (
        trio.open_nursery() as nursery,
        open_supervisor(timing.max_restarts, timing.restart_period) as supervisor,
    ):
        registry = Registry(supervisor, context, {USER: UserActor, CONVERSATION: ConversationActor})
        service = PresenceService(registry, context)
        await service.refresh_directory(force=True)
        nursery.start_soon(service.keep_directory_fresh)
        try:
            yield service
        finally:
            with trio.CancelScope(shield=True):
                await registry.stop_all(stop_timeout)
            nursery.cancel_scope.cancel()


__all__ = [
    "ActorUnavailable",
    "NotFound",
    "PresenceService",
    "PresenceView",
    "RateLimited",
    "Subscription",
    "TooManySockets",
    "open_presence",
]
