"""`memory://`: the backend kept in dictionaries, behind the same storage actor.

`memory://` is private to one store; `memory://NAME` is shared by every store of this
process that names it, so a restart can be exercised without a database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from presence_actors.model import PresenceRecord, PresenceStatus
from presence_actors.ports import DirectoryData

from ..backend import Trace
from ..directory_file import DirectoryImport, first_unknown
from ..schema import MIGRATIONS

_UPSERT = "INSERT INTO user_presence (memory batch)"


@dataclass
class MemoryDatabase:
    versions: set[int] = field(default_factory=set)
    users: dict[int, str] = field(default_factory=dict)
    partnerships: set[tuple[int, int]] = field(default_factory=set)
    circles: dict[int, tuple[str, frozenset[int]]] = field(default_factory=dict)
    conversations: dict[int, frozenset[int]] = field(default_factory=dict)
    presence: dict[int, PresenceRecord] = field(default_factory=dict)


_NAMED: dict[str, MemoryDatabase] = {}


class MemoryBackend:
    def __init__(self, db: MemoryDatabase, trace: Trace | None) -> None:
        self.db = db
        self._trace = trace

    async def migrate(self) -> list[int]:
        new = [m.version for m in MIGRATIONS if m.version not in self.db.versions]
        self.db.versions.update(new)
        return new

    async def mark_all_offline(self) -> int:
        rows = self.db.presence
        stale = [r for r in rows.values() if r.status is not PresenceStatus.OFFLINE]
        for r in stale:
            rows[r.user_id] = PresenceRecord(r.user_id, PresenceStatus.OFFLINE, r.last_seen)
        return len(stale)

    async def upsert(self, batch: Sequence[PresenceRecord]) -> set[int]:
        if self._trace is not None:
            self._trace(_UPSERT)
        users, rows = self.db.users, self.db.presence
        written = {r.user_id for r in batch if r.user_id in users}
        rows.update((r.user_id, r) for r in batch if r.user_id in written)
        return written

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]:
        rows = self.db.presence
        return [rows[uid] for uid in user_ids if uid in rows]

    async def fetch_directory(self) -> DirectoryData:
        db = self.db
        return DirectoryData(
            users=dict(db.users),
            partnerships=frozenset(db.partnerships),
            circles=dict(db.circles),
            conversations=dict(db.conversations),
        )

    async def import_directory(self, doc: DirectoryImport) -> None:
        db = self.db
        error = first_unknown(doc, set(db.users))
        if error is not None:
            raise error
        for uid, name in doc.users:
            db.users[uid] = name if name is not None else db.users.get(uid, "")
        db.partnerships.update(doc.partnerships)
        db.circles.update((cid, (name, frozenset(m))) for cid, name, m in doc.circles)
        db.conversations.update((cid, frozenset(m)) for cid, m in doc.conversations)

    async def ping(self) -> None:
        return None


@asynccontextmanager
async def open_memory(name: str, trace: Trace | None = None) -> AsyncIterator[MemoryBackend]:
    db = _NAMED.setdefault(name, MemoryDatabase()) if name else MemoryDatabase()
    yield MemoryBackend(db, trace)
