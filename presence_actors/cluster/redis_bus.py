"""The bus on Redis pub/sub, through coredis (trio-native through anyio).

Two channels per cluster: `prefix:cluster` (every node) and `prefix:node:ID` (one node's
direct messages: snapshots it asked for). One publishing client and one subscription per
connection; everything `send` queued since the last write leaves in one pipeline, so a
burst of deltas costs one round trip (docs/cluster.md has the measured costs).

Every wait on Redis is bounded (`timeout`): a publish that does not complete in time, a
connection refused, an end of stream, all end the connection, report `BusDown`, and the
loop connects again after a backoff (0.1 s doubling to 5 s, with jitter). While down,
`send` drops (and counts) rather than queue: the protocol's numbering and the snapshot
every node sends on reconnecting bring the others back up to date.
"""

from __future__ import annotations

import collections
import logging
import math
import random

import anyio
import coredis
import trio
from coredis.retry import NoRetryPolicy

from .bus import BusDown, BusStatistics, BusUp, Received
from .redis_url import RedisTarget

log = logging.getLogger("presence.cluster")


class RedisBus:
    def __init__(
        self,
        target: RedisTarget,
        node: str,
        *,
        timeout: float = 1.0,
        backoff: tuple[float, float] = (0.1, 5.0),
        max_pending: int = 10_000,
    ) -> None:
        self.target = target
        self.node = node
        self.timeout = timeout
        self.backoff = backoff
        self.max_pending = max_pending
        self.broadcast = target.key("cluster")
        self.client: coredis.Redis | None = None  # the live connection, for the rate limits
        self._pending: collections.deque[tuple[str, bytes]] = collections.deque()
        self._wake = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._connection: trio.CancelScope | None = None
        self._task_status = None
        self._sent = self._received = self._dropped = self._reconnects = 0

    def channel_of(self, node: str) -> str:
        return self.target.key("node", node)

    @property
    def is_up(self) -> bool:
        return self.client is not None

    # --- the ClusterBus interface --------------------------------------------------------

    def send(self, data: bytes, to: str | None = None) -> None:
        if self.client is None or len(self._pending) >= self.max_pending:
            self._dropped += 1
            return
        self._pending.append((self.broadcast if to is None else self.channel_of(to), data))
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        self._wake.set()

    def reconnect(self) -> None:
        if self._connection is not None:
            self._reconnects += 1
            self._connection.cancel()

    async def peer_count(self, timeout: float) -> int | None:
        client = self.client
        if client is None:
            return None
        with trio.move_on_after(min(timeout, self.timeout)):
            try:
                counts = await client.pubsub_numsub(self.broadcast)
            except Exception:  # any failure means: cannot tell
                return None
            return max(0, int(next(iter(counts.values()), 0)) - 1)
        return None

    async def drain(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self._idle.wait()

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            self.is_up, self._sent, self._received, self._dropped, self._reconnects
        )

    # --- the connection loop -------------------------------------------------------------

    async def run(
        self, events: trio.MemorySendChannel, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        delay = self.backoff[0]
        self._task_status = task_status
        while True:
            try:
                with trio.CancelScope() as self._connection:
                    await self._connect_and_serve(events)
                delay = self.backoff[0]  # asked to reconnect: at once, no backoff
                error_text = "reconnecting"
            except Exception as error:  # any failure: a new connection
                error_text = _describe(error)
            finally:
                was_up, self.client = self.client is not None, None
                self._pending.clear()
                self._idle.set()
            if was_up:
                await events.send(BusDown(error_text))
            else:
                log.debug("redis bus: cannot connect (%s)", error_text)
            self._started()
            await trio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.backoff[1])

    async def _connect_and_serve(self, events: trio.MemorySendChannel) -> None:
        client = coredis.Redis.from_url(
            self.target.url,
            connect_timeout=self.timeout,
            stream_timeout=self.timeout,
            retry_policy=NoRetryPolicy(),
        )
        channels = [self.broadcast, self.channel_of(self.node)]
        # Connecting and subscribing are bounded; serving is not.
        with trio.CancelScope(deadline=trio.current_time() + self.timeout) as connecting:
            try:
                async with client, client.pubsub(channels=channels, retry_policy=None) as pubsub:
                    connecting.deadline = math.inf
                    await self._serve(client, pubsub, events)
            except* anyio.ClosedResourceError:
                # coredis 6.9's pubsub sends UNSUBSCRIBE while tearing down a connection that
                # is already closed (cancelled or lost): the subscription is gone either way.
                pass
        if connecting.cancelled_caught:
            raise TimeoutError(f"no connection to Redis within {self.timeout} s")

    async def _serve(self, client, pubsub, events: trio.MemorySendChannel) -> None:
        async with trio.open_nursery() as nursery:
            self.client = client
            await events.send(BusUp())
            self._started()
            nursery.start_soon(self._write_loop, client)
            async for message in pubsub:
                if message["type"] == "message":
                    self._received += 1
                    await events.send(Received(message["data"]))
            raise ConnectionError("the subscription ended")

    def _started(self) -> None:
        """The first attempt is over, up or not: the caller of `run` may go on."""
        if self._task_status is not None:
            self._task_status.started()
            self._task_status = None

    async def _write_loop(self, client: coredis.Redis) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch = list(self._pending)
            self._pending.clear()
            if batch:
                with trio.fail_after(self.timeout):
                    async with client.pipeline(transaction=False) as pipe:
                        for channel, data in batch:
                            pipe.publish(channel, data)
                self._sent += len(batch)
            if not self._pending:
                self._idle.set()


def _describe(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
