"""The service's lifetime inside the app: store + actors started with the server, stopped after.

Quart-Trio's lifespan runs `before_serving` and `after_serving` in one task with
`app.nursery` open. The store and `open_presence` live in a task of that nursery under
their own cancel scope (STACK-NOTES: never hold a nursery across a `yield`): `start`
returns once the service is up, `stop` asks the task to leave its `async with` blocks —
which stops the actors and flushes the store — and cancels it if that overruns.

It also keeps the node's socket bookkeeping: the open `SocketSession`s by user — a drain
closes them all with 1001, and a user removed from the directory has theirs closed with
4403 (`close_sessions_of`, which the core calls through `PresenceService.on_user_removed`
in the step that publishes the new directory) — the socket capacity (refused with 503
before the upgrade, so the process never runs out of file descriptors for health checks
and REST), and the pump that writes and pings them. `mark_offline` is the start-up write
of SPEC §5, done once the node listens.

`drain` is the first half of a graceful shutdown: refuse new sockets and close the open
ones with 1001, before hypercorn stops listening.

With `redis_url` set the node joins the cluster (SPEC §13, docs/cluster.md): a
`RedisBus`, a `ClusterNode` writing into the service's `cluster_sink` and a
`ClusterLimiter` run in the same task as the service, the service is attached to them,
and on stop the node says goodbye (bounded by `CLUSTER_LEAVE`) before the actors stop.
Without it, nothing of the cluster is imported (coredis costs start-up time and memory).
"""

from __future__ import annotations

import gc
import logging
import resource
from contextlib import AsyncExitStack

import trio

from presence_actors import WallClock, open_presence
from storage import StoreOptions, open_store

from .auth import TokenVerifier
from .config import ConfigError, Settings
from .demo import install_demo
from .metrics import WebMetrics
from .pump import SocketPump
from .session import REMOVED

log = logging.getLogger("web")

DRAIN_LINGER = 0.5  # seconds of REST with `Connection: close` before hypercorn stops listening
CLUSTER_LEAVE = 1.0  # seconds for the pending delta and the goodbye to reach Redis at stop
# Reconnect backoff of the cluster bus: 0.1 s doubling to at most 1 s, so a node is back on
# Redis within ~1 s of its return and the resync fits SPEC §13's 5 s (RedisBus's own cap,
# 5 s, could by itself use the whole budget after a long outage). A refused connect a
# second is nothing to Redis.
BUS_BACKOFF = (0.1, 1.0)


class ServiceHost:
    """What the handlers share: the service, the token verifier, metrics, and sockets."""

    def __init__(self, settings: Settings, store=None, clock: WallClock | None = None,
                 freeze_heap: bool = True) -> None:
        self.settings = settings
        self.verifier = TokenVerifier(settings)  # a ConfigError here stops create_app
        self.redis_target = redis_target(settings)  # and here
        self.metrics = WebMetrics()
        self.service = None
        self.cluster = None  # the ClusterNode, when redis_url is set
        self.limiter = None  # its ClusterLimiter
        self.draining = trio.Event()
        self.sessions: dict[int, list] = {}  # user id -> open SocketSessions
        self.sockets = 0  # open sessions
        self.capacity = 0  # set at start, once the fd limit is raised (web.server)
        self.pump = SocketPump(settings.ws_ping_interval)
        self._reserved = 0  # sockets admitted or open, against the capacity
        self._given_store = store
        self._given_clock = clock
        self._freeze_heap = freeze_heap
        self._stop = trio.Event()
        self._stopped = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._socket_closed: trio.Event | None = None  # set at the next close

    async def start(self, nursery: trio.Nursery) -> None:
        self.service = await nursery.start(self._run)
        if self._freeze_heap:
            freeze_startup_heap()
        self.measure_capacity()
        self.metrics.watch_core(self.service.statistics)
        self.metrics.watch("storage", self._store_statistics)
        if self.cluster is not None:
            self.metrics.watch("cluster", self.cluster.statistics)
            self.metrics.watch("cluster_limits", self.limiter.statistics)

    async def _run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.wall = self._given_clock or WallClock()
        try:
            with trio.CancelScope() as self._scope:
                async with AsyncExitStack() as stack:
                    store = self._given_store
                    if store is None:
                        options = StoreOptions(close_deadline=self.settings.shutdown_timeout)
                        store = await stack.enter_async_context(
                            open_store(self.settings.store_url, options=options)
                        )
                    service = await stack.enter_async_context(
                        open_presence(store, timing=self.settings.timing(), clock=self.wall)
                    )
                    if self.redis_target is not None:  # before anything can start an actor
                        cluster = await stack.enter_async_context(trio.open_nursery())
                        await self._join_cluster(service, cluster)
                    if self.settings.demo:
                        await install_demo(service)
                    service.on_user_removed(self.close_sessions_of)
                    pump = await stack.enter_async_context(trio.open_nursery())
                    await pump.start(self.pump.run)
                    task_status.started(service)
                    await self._stop.wait()
                    # This body runs inside the pump's (and the cluster's) cancel scope:
                    # the goodbye goes out before either is cancelled.
                    if self.cluster is not None:
                        await self._leave_cluster(cluster)
                    pump.cancel_scope.cancel()
        finally:
            self._stopped.set()

    async def _join_cluster(self, service, nursery: trio.Nursery) -> None:
        """Start this node's bus, node loop and limiter in `nursery` and attach the service.
        Returns once the bus made its first connection attempt, up or not: a node whose
        Redis is down starts all the same (it serves what it holds and keeps retrying)."""
        import os
        import socket

        from presence_actors.cluster import (
            ClusterLimiter,
            ClusterNode,
            RedisBus,
            new_node_id,
        )

        target = self.redis_target
        bus = RedisBus(target, new_node_id(), backoff=BUS_BACKOFF)
        info = f"{socket.gethostname()}:{os.getpid()}"
        self.cluster = ClusterNode(bus, service.cluster_sink, self.settings.node_ttl, info)
        self.limiter = ClusterLimiter(bus, self.settings.timing())
        # Attached before the node runs: what peers say starts actors, and an actor's
        # writes carry the node it started on.
        service.attach_cluster(self.cluster, self.limiter)
        await nursery.start(self.cluster.run)
        log.info("cluster node %s on %s", bus.node, target.redacted())

    async def _leave_cluster(self, nursery: trio.Nursery) -> None:
        """Publish what is pending and say goodbye (peers drop this node at once rather
        than after node_ttl), then stop the node loop; the actors stop after."""
        try:
            await self.cluster.leave(CLUSTER_LEAVE)
        finally:
            nursery.cancel_scope.cancel()

    async def stop(self) -> None:
        """Stop the actors and flush the store, within the shutdown timeout."""
        self.draining.set()
        self._stop.set()
        # actors get up to shutdown_timeout to stop, then the store as long to flush
        with trio.move_on_after(2 * self.settings.shutdown_timeout):
            await self._stopped.wait()
        if not self._stopped.is_set() and self._scope is not None:
            log.warning("service did not stop in time; cancelling")
            self._scope.cancel()
            await self._stopped.wait()

    async def drain(self) -> None:
        """Refuse new sockets and close the open ones with 1001; meanwhile, for at least
        DRAIN_LINGER, REST is still answered but with `Connection: close` (web/asgi.py), so
        keep-alive clients leave before hypercorn stops listening and closes idle
        connections under their next request. Bounded by half the shutdown timeout."""
        self.draining.set()
        lingered = trio.current_time() + DRAIN_LINGER
        for sessions in list(self.sessions.values()):
            for session in sessions:
                session.close(1001)
        with trio.move_on_after(self.settings.shutdown_timeout / 2):
            await self.sockets_at_most(0)
            await trio.sleep_until(lingered)

    async def sockets_at_most(self, count: int) -> None:
        """Return once at most `count` sockets are open."""
        while self.sockets > count:
            if self._socket_closed is None:
                self._socket_closed = trio.Event()
            await self._socket_closed.wait()

    def close_sessions_of(self, user_id: int, code: int = REMOVED) -> int:
        """Close every open socket of `user_id` with `code` (4403: no longer in the
        directory); how many there were."""
        sessions = list(self.sessions.get(user_id, ()))
        for session in sessions:
            session.close(code)
        return len(sessions)

    async def mark_offline(self) -> int:
        """SPEC §5 and §13: on start, mark offline every persisted non-offline status that
        no live node holds, keeping `last_seen`. Called once the node listens, so a start
        that fails (port taken, bad key, bad database) writes nothing; never by the CLI's
        other commands.

        A single node marks every one (nobody is connected yet). A node of a cluster first
        waits to have joined (`wait_joined(2 * node_ttl / 3)`: the bus is up and every
        other node sent its snapshot), then spares every user live in its replicas; if it
        could not join (Redis down, a peer silent), it marks nothing and says so: reads
        already show a user who is not live as offline whatever a stale row says, and each
        user's owner persists their true state once the node learns it (docs/cluster.md).

        A store without `mark_offline` (MemoryStore) holds nothing from earlier runs. A
        database that cannot do it now is logged, not fatal. Returns the rows changed.
        """
        import storage

        store = self.service.store if self.service is not None else None
        if not hasattr(store, "mark_offline"):
            return 0
        live: frozenset[int] | set[int] = frozenset()
        if self.cluster is not None:
            if not await self.cluster.wait_joined(2 * self.settings.node_ttl / 3):
                log.warning("statuses left by an earlier run not set offline: this node "
                            "has not joined the cluster (Redis down or a node silent)")
                return 0
            live = self.service.live_user_ids()
        try:
            changed = await store.mark_offline(except_users=live)
        except storage.StoreUnavailable as error:
            log.warning("statuses left by an earlier run not set offline: %s", error)
            return 0
        spared = f" ({len(live)} users live on the cluster spared)" if self.cluster else ""
        log.info("%d statuses left by an earlier run set offline%s", changed, spared)
        return changed

    def measure_capacity(self) -> None:
        """Sockets this node accepts: the setting, else from the fd limit as it is now
        (web.server raises it when it starts serving, which may be after `start`)."""
        self.capacity = socket_capacity(self.settings.max_sockets)
        self.metrics.sockets_capacity.set(self.capacity)

    def reserve_socket(self) -> str | None:
        """Hold a socket slot (until `release_socket`), or say why not: the 503 detail."""
        if self.service is None or self.draining.is_set():
            return "Server is shutting down"
        if self._reserved >= self.capacity:
            return "Server is at its socket capacity"
        self._reserved += 1
        return None

    def release_socket(self) -> None:
        self._reserved -= 1

    def socket_opened(self, session) -> None:
        """A subscribed socket: counted, pinged and expired by the pump, kept by user."""
        self.sockets += 1
        self.metrics.sockets_open.inc()
        self.pump.add(session)
        self.add_session(session)

    def add_session(self, session) -> None:
        """Keep `session` under its user: closed on drain and on removal. If the user was
        removed from the directory since the core took the subscription, it closes at once
        with 4403 (the removal's own call found no session of theirs to close)."""
        self.sessions.setdefault(session.user_id, []).append(session)
        if self.service is not None and not self.service.directory.exists(session.user_id):
            session.close(REMOVED)

    def discard_session(self, session) -> None:
        sessions = self.sessions.get(session.user_id)
        if sessions is not None and session in sessions:
            sessions.remove(session)
            if not sessions:
                del self.sessions[session.user_id]

    def socket_closed(self, session) -> None:
        """Counted under its close code; `peer` when the client left first."""
        self.sockets -= 1
        self.metrics.sockets_open.dec()
        code = session.close_code
        self.metrics.sockets_closed.labels("peer" if code is None else str(code)).inc()
        self.pump.discard(session)
        self.discard_session(session)
        if self._socket_closed is not None:
            self._socket_closed.set()
            self._socket_closed = None

    def ready(self) -> bool:
        return not self.unready()

    def unready(self) -> list[str]:
        """What stops this node from answering requests: `actors` (not started, or
        stopping), `store` (unreachable). Empty when ready."""
        service = self.service
        if service is None or self._stop.is_set() or not service.running:
            return ["actors"]
        return [] if service.store.ready() else ["store"]

    def degraded(self) -> list[str]:
        """Dependencies that are down without making the node unready: `redis` (the node
        answers from what it holds and limits per node; SPEC §13, docs/api.md)."""
        if self.cluster is not None and not self.cluster.is_connected:
            return ["redis"]
        return []

    def _store_statistics(self):
        service = self.service
        statistics = getattr(service.store, "statistics", None) if service else None
        return statistics() if statistics is not None else None


def redis_target(settings: Settings):
    """The cluster's `RedisTarget`, or None for a single node (nothing of the cluster,
    coredis included, is imported then).

    Raises:
        ConfigError: a malformed `redis_url`.
    """
    if not settings.redis_url:
        return None
    from presence_actors.cluster import parse_redis_url

    try:
        return parse_redis_url(settings.redis_url)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def socket_capacity(configured: int) -> int:
    """`configured`, or (0) the file-descriptor limit less a reserve for everything that
    is not a WebSocket: REST and health-check connections, the store, logs."""
    if configured > 0:
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(1, soft - min(1024, max(64, soft // 64)))


def freeze_startup_heap() -> None:
    """Keep start-up objects out of every garbage collection, and collect less often.

    ~440,000 objects (modules, the app, the directory) survive start-up and never die, yet
    each full collection walked them all (up to 330 ms); the cyclic collector was about
    half the cost of fan-out. Measured on F1: 4,300 -> 13,756 deliveries/s; F3's connect
    ramp 118 s -> 40 s. Everything that matters here is reference-counted, not cyclic.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)  # gen 0: docs/benchmarks.md, "Issue 10 pass"


EXTENSION_KEY = "presence"  # app.extensions[EXTENSION_KEY] is the app's ServiceHost


def host_of(app) -> ServiceHost:
    """The ServiceHost `create_app` attached to `app`: the one way web/ reaches it."""
    return app.extensions[EXTENSION_KEY]


def current_host() -> ServiceHost:
    """The ServiceHost of the app serving the current request or WebSocket."""
    from quart import current_app

    return host_of(current_app)
