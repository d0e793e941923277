"""The storage port: what the actors need from persistence, and nothing more.

Actors never await the database. They hand snapshots to `persist`, which must return at
once (write-behind: the store queues and coalesces them); they read what they need on
start (`load_presence`) and the directory through `load_directory`. A store may also have
`async load_directory_version()`, a value that changes whenever the directory does: the
core then polls it instead of reloading the whole directory (`DirectoryCache`). Two
things implement it: `storage.Store` (the storage actor, for every
`PRESENCE_DATABASE_URL`: Postgres, SQLite and `memory://`) and
`presence_actors.MemoryStore` (dictionaries, no actor, for the core's tests and the
testing kit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .model import PresenceRecord


@dataclass(frozen=True)
class DirectoryData:
    """Who exists and how they are related (SPEC §4), as loaded from the store."""

    users: Mapping[int, str] = field(default_factory=dict)  # id -> display_name
    partnerships: frozenset[tuple[int, int]] = frozenset()  # each pair once, (low, high)
    circles: Mapping[int, tuple[str, frozenset[int]]] = field(default_factory=dict)
    conversations: Mapping[int, frozenset[int]] = field(default_factory=dict)


class PresenceStore(Protocol):
    """What actors and the web layer need from persistence."""

    def persist(self, record: PresenceRecord) -> None:
        """Queue a snapshot for writing; never blocks, never raises on database trouble."""

    async def load_presence(self, user_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        """Persisted presence of these users (pending writes included); absent if never seen."""

    async def load_directory(self) -> DirectoryData:
        """The whole directory, from which a `Directory(data)` snapshot is built."""

    def ready(self) -> bool:
        """True while the store can reach its database (for /readyz)."""
