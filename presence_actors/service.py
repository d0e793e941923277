"""The façade the web layer calls: every method sends to an actor or reads a published
view, and every wait is bounded. Nothing here touches an actor's state.

Each concern has its own module: the directory snapshot and when it reloads
(`directory_cache.py`), reads (`reads.py`), subscriptions (`subscriptions.py`). What is
left here is routing a call to the right one, and asking the actors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from . import conversation_rules, user_rules
from .actor import CONVERSATION, USER
from .clock import WallClock
from .cluster import ClusterNode
from .cluster_sink import ActorSink
from .context import ActorContext
from .conversation_actor import ConversationActor
from .directory import Directory
from .directory_cache import DirectoryCache
from .directory_pushes import DirectoryPushes
from .errors import NotFound, RateLimited, TooManySockets
from .mailbox import Refusal, ReplySlot
from .model import PresenceRecord, PresenceStatus, PresenceView
from .ports import PresenceStore
from .reads import views_for
from .registry import Registry
from .subscriptions import Subscription, open_subscription
from .supervisor import open_supervisor
from .timing import Timing
from .user_actor import UserActor

if TYPE_CHECKING:  # the Redis parts: a single node never imports coredis
    from .cluster import ClusterLimiter, Verdict


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


class PresenceService:
    def __init__(
        self, registry: Registry, directories: DirectoryCache, pushes: DirectoryPushes
    ) -> None:
        self.registry = registry
        self.context = registry.context
        self.store = self.context.store
        self.directories = directories
        self._pushes = pushes
        self.cluster_sink = ActorSink(registry)
        self.cluster: ClusterNode | None = None
        self.limiter: ClusterLimiter | None = None

    @property
    def running(self) -> bool:
        """True until shutdown begins (for readiness)."""
        return not self.registry.closing

    @property
    def directory(self) -> Directory:
        return self.context.directory

    async def refresh_directory(self, force: bool = False) -> Directory:
        """Reload the directory; without `force`, at most once per `directory_min_refresh`.

        Raises:
            Exception: whatever the store's `load_directory` raises.
        """
        return await self.directories.refresh(force)

    def on_user_removed(self, listener: Callable[[int], None]) -> None:
        """Call `listener(user_id)` when a user with an open subscription is removed from
        the directory (the web layer closes their sockets with 4403). It runs in the step
        that publishes the new directory, so it must be quick and not raise."""
        self._pushes.on_expel(listener)

    # --- the cluster ---------------------------------------------------------------------

    def attach_cluster(self, node: ClusterNode, limiter: ClusterLimiter | None = None) -> None:
        """Join a cluster: from now on writes are replicated through `node`, only the owner
        of a user persists it, and the limits ask `limiter` first (docs/cluster.md). Before
        this call the service is a cluster of one. `node` must have been made with
        `cluster_sink` as its sink, and no actor may be running yet (call it before the
        node listens): an actor's writes are stamped with the node it started on.

        Raises:
            RuntimeError: actors are already running.
        """
        registry = self.registry
        if registry.count(USER) or registry.count(CONVERSATION):
            raise RuntimeError("attach_cluster must come before the first actor starts")
        self.cluster = self.context.cluster = node
        self.context.node = node.node
        self.limiter = limiter

    def live_user_ids(self) -> set[int]:
        """Users with a live device in any replica this node holds (the joined start-up
        marks every other stored status offline)."""
        offline = PresenceStatus.OFFLINE
        return {uid for uid, record in self.context.board.items() if record.status is not offline}

    # --- presence ------------------------------------------------------------------------

    async def set_status(
        self, user_id: int, device_id: str, status: PresenceStatus
    ) -> PresenceRecord:
        """A status post from one device; answers with the user's aggregate record.

        Raises:
            RateLimited: less than `status_min_interval` after this device's last post.
            ActorUnavailable: the user's actor is overloaded, failing or shutting down.
        """
        admitted = None
        if self.limiter is not None:
            offline = status is PresenceStatus.OFFLINE
            admitted = self._admit(await self.limiter.admit_status(user_id, device_id, offline))
        return await self._ask(
            USER, user_id, lambda r: user_rules.SetStatus(device_id, status, r, admitted)
        )

    async def post_status(
        self,
        user_id: int,
        device_id: str,
        status: PresenceStatus,
        on_refused: Callable[[BaseException], None],
    ) -> Refusal:
        """`set_status` without waiting for the answer (a WebSocket status frame, which
        has no reply when accepted): queued at once, in order with the device's other
        frames; a refusal reaches `on_refused` when the actor decides it. Returns the
        request's slot (`decided`, `wait`) for a sender that must not run ahead of it.

        Raises:
            RateLimited: refused by the cluster-wide limit (asked before queueing).
            ActorUnavailable: the user's actor is overloaded or shutting down.
        """
        admitted = None
        if self.limiter is not None:
            offline = status is PresenceStatus.OFFLINE
            admitted = self._admit(await self.limiter.admit_status(user_id, device_id, offline))
        counters = self.context.counters

        def refused(error: BaseException) -> None:
            if isinstance(error, RateLimited):
                counters.rate_limited += 1
            on_refused(error)

        slot = Refusal(refused)
        self.registry.tell(USER, user_id, user_rules.SetStatus(device_id, status, slot, admitted))
        return slot

    async def touch(self, user_id: int, device_id: str) -> None:
        """Activity on a device (a typing POST, a WebSocket frame): it extends the device,
        or brings it online if it had no live status (SPEC §5). It never waits (async only
        so that every call of the façade is awaited alike).

        Raises:
            ActorUnavailable: the user's actor is overloaded or shutting down.
        """
        self.registry.tell(USER, user_id, user_rules.Touch(device_id))

    async def presences(
        self, viewer: int, user_ids: Iterable[int] | None = None
    ) -> list[PresenceView]:
        """What `viewer` may see of these users (all visible when None), by ascending id;
        the ones `viewer` cannot see are left out."""
        if user_ids is None:
            wanted = sorted(self.directory.visible(viewer))
        else:
            wanted = sorted(set(user_ids))
            visible = await self.directories.visible_or_refresh(viewer, wanted)
            wanted = [uid for uid in wanted if uid in visible]
        return await views_for(self.context, viewer, wanted)

    async def presence(self, viewer: int, user_id: int) -> PresenceView:
        """One user as `viewer` sees them.

        Raises:
            NotFound: unknown, or not visible to `viewer` (they look alike on purpose).
        """
        if user_id not in await self.directories.visible_or_refresh(viewer, (user_id,)):
            raise NotFound(f"user {user_id} not found")
        [view] = await views_for(self.context, viewer, [user_id])
        return view

    # --- typing --------------------------------------------------------------------------

    async def set_typing(
        self, user_id: int, conversation_id: int, is_typing: bool, device_id: str | None = None
    ) -> conversation_rules.TypingResult:
        """Typing for a participant; an accepted one is activity of `device_id` too.

        Raises:
            NotFound: not a participant, or no such conversation (alike on purpose).
            RateLimited: over the (user, conversation) token bucket.
            ActorUnavailable: the conversation's actor is overloaded, failing or stopping.
        """
        participant = await self.directories.check_or_refresh(
            lambda directory: directory.is_participant(user_id, conversation_id)
        )
        if not participant:
            raise NotFound(f"conversation {conversation_id} not found")
        admitted = None
        if self.limiter is not None:
            admitted = self._admit(await self.limiter.admit_typing(user_id, conversation_id))
        result = await self._ask(
            CONVERSATION,
            conversation_id,
            lambda r: conversation_rules.SetTyping(user_id, is_typing, r, admitted),
        )
        if device_id is not None:
            await self.touch(user_id, device_id)
        return result

    def _admit(self, verdict: Verdict | None) -> bool | None:
        """The cluster limiter's verdict as the rules take it: True (admitted cluster-wide,
        no local check), None (Redis did not answer in time: the local rule decides).

        Raises:
            RateLimited: refused cluster-wide (nothing is sent to the actor).
        """
        if verdict is None:
            return None
        if not verdict.admitted:
            self.context.counters.rate_limited += 1
            raise RateLimited(verdict.retry_after)
        return True

    async def _ask(self, kind: str, key: int, make: Callable[[ReplySlot], Any]) -> Any:
        """`Registry.ask`, counting the rate-limited answers for the statistics."""
        try:
            return await self.registry.ask(kind, key, make)
        except RateLimited:
            self.context.counters.rate_limited += 1
            raise

    # --- subscriptions -------------------------------------------------------------------

    def socket_count(self, user_id: int) -> int:
        return self.context.subscribers.sockets_of(user_id)

    def subscribe(self, user_id: int, device_id: str) -> AbstractAsyncContextManager[Subscription]:
        """A live connection (`async with`): see `subscriptions.open_subscription`.

        Raises:
            NotFound: the user is not (any longer) in the directory.
            TooManySockets: the user already has `max_sockets_per_user` open.
            ActorUnavailable: the user's actor is overloaded, failing, shutting down or
                did not answer in time.
        """
        if self.limiter is None or self.cluster is None:
            return open_subscription(self.registry, user_id, device_id)
        return self._subscribe_counted(user_id, device_id)

    @asynccontextmanager
    async def _subscribe_counted(self, user_id: int, device_id: str) -> AsyncIterator[Subscription]:
        """A subscription counted against the cluster-wide socket cap (one bounded Redis
        call each way; Redis not answering leaves the cap to this node)."""
        limiter, cluster = self.limiter, self.cluster
        assert limiter is not None and cluster is not None
        verdict = await limiter.admit_socket(user_id, cluster.live_nodes())
        if verdict is not None and not verdict.admitted:
            self.context.counters.rate_limited += 1
            raise TooManySockets(f"user {user_id} has too many open connections")
        try:
            async with open_subscription(self.registry, user_id, device_id) as subscription:
                yield subscription
        finally:
            if verdict is not None:
                with trio.CancelScope(shield=True):
                    await limiter.release_socket(user_id)

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
    """Run the supervisor and the registry; on exit, actors drain their queues and stop.

    Raises:
        Exception: whatever the store raises on the first directory load (nothing runs).
    """
    timing = timing or Timing()
    context = ActorContext(store=store, clock=clock or WallClock(), timing=timing)
    directories = DirectoryCache(context)
    async with (
        trio.open_nursery() as nursery,
        open_supervisor(timing.max_restarts, timing.restart_period) as supervisor,
    ):
        registry = Registry(supervisor, context, {USER: UserActor, CONVERSATION: ConversationActor})
        nursery.start_soon(registry.alarms.run)
        pushes = DirectoryPushes(registry)
        directories.on_change = pushes.changed
        await directories.refresh(force=True)
        nursery.start_soon(directories.keep_fresh)
        nursery.start_soon(pushes.run)
        try:
            yield PresenceService(registry, directories, pushes)
        finally:
            with trio.CancelScope(shield=True):
                await registry.stop_all(stop_timeout)
            nursery.cancel_scope.cancel()
