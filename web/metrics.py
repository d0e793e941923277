"""`/metrics`: Prometheus text from a per-app registry (tests build many apps).

Counters the web layer owns (sockets, rate-limited requests) are updated as things happen;
everything the core and the store already count is read from their `statistics()`
snapshots at scrape time, so there is one source of truth and no double bookkeeping.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PREFIX = "presence_"


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sockets_open = Gauge(
            PREFIX + "sockets_open", "Open WebSocket subscriptions", registry=self.registry
        )
        self.sockets_closed = Counter(
            PREFIX + "sockets_closed", "WebSockets closed, by close code",
            ["code"], registry=self.registry,
        )
        self.rate_limited = Counter(
            PREFIX + "rate_limited_requests", "Requests answered 429, by endpoint",
            ["endpoint"], registry=self.registry,
        )
        self.rejected_sockets = Counter(
            PREFIX + "rejected_sockets", "WebSocket upgrades refused, by status",
            ["status"], registry=self.registry,
        )
        self.sockets_capacity = Gauge(
            PREFIX + "sockets_capacity", "WebSockets this node accepts before refusing (503)",
            registry=self.registry,
        )
        self.frames_refused = Counter(
            PREFIX + "socket_frames_refused", "Client frames refused by the per-socket rate limit",
            registry=self.registry,
        )

    def watch_core(self, statistics: Callable[[], object]) -> None:
        """Export the core's `ServiceStatistics` under stable, labelled names."""
        self.registry.register(_CoreCollector(statistics))

    def watch(self, name: str, statistics: Callable[[], object | None]) -> None:
        """Export a `statistics()` snapshot's numbers under `presence_<name>_...` per scrape."""
        self.registry.register(_SnapshotCollector(PREFIX + name, statistics))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CoreCollector:
    def __init__(self, statistics: Callable[[], object]) -> None:
        self.statistics = statistics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        s = self.statistics()
        actors = GaugeMetricFamily(PREFIX + "live_actors", "Live actors, by kind", labels=["kind"])
        actors.add_metric(["user"], s.user_actors)
        actors.add_metric(["conversation"], s.conversation_actors)
        yield actors
        pushes = CounterMetricFamily(PREFIX + "pushes", "Changes pushed, by type", labels=["type"])
        pushes.add_metric(["presence_update"], s.presence_pushes)
        pushes.add_metric(["typing_update"], s.typing_pushes)
        yield pushes
        for name, value, text in [
            ("deliveries", s.deliveries, "Frames offered to outboxes"),
            ("actor_restarts", s.restarts, "Actors restarted by the supervisor"),
            ("actors_given_up", s.given_up, "Actors given up after too many restarts"),
            ("actors_started", s.actors_started, "Actors started"),
            ("actors_retired", s.actors_retired, "Actors retired when idle"),
            ("rejected_busy", s.rejected_busy, "Messages refused by a full mailbox"),
            ("core_rate_limited", s.rate_limited, "Status and typing updates rate limited"),
        ]:
            yield CounterMetricFamily(PREFIX + name, text, value=value)
        yield GaugeMetricFamily(PREFIX + "subscribers", "Open subscriptions", value=s.subscribers)


class _SnapshotCollector:
    """Flattens a dataclass snapshot: numbers become gauges, mappings become labelled gauges."""

    def __init__(self, prefix: str, statistics: Callable[[], object | None]) -> None:
        self.prefix = prefix
        self.statistics = statistics

    def describe(self) -> list[Metric]:
        return []  # the shape is only known per snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.statistics()
        if snapshot is None:
            return
        yield from _flatten(self.prefix, snapshot)


def _flatten(prefix: str, value: object) -> Iterator[Metric]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _flatten(f"{prefix}_{f.name}", getattr(value, f.name))
    elif value is None and prefix.endswith("_seconds"):  # not measured yet
        yield GaugeMetricFamily(prefix, prefix, value=math.nan)
    elif isinstance(value, int | float):  # bool included
        yield GaugeMetricFamily(prefix, prefix, value=float(value))
    elif isinstance(value, Mapping):
        family = GaugeMetricFamily(prefix, prefix, labels=["key"])
        for key, item in value.items():
            if isinstance(item, int | float):
                family.add_metric([str(key)], float(item))
        yield family
