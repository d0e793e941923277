"""`memory://`: the backend kept in dictionaries, behind the same storage actor.

`memory://` is private to one store; `memory://NAME` is shared by every store of this
process that names it, so a restart can be exercised without a database. It keeps the SQL
backends' rules: unknown users skipped, `last_seen` never moving backwards, a directory
version bumped by every import, mark-offline sparing rows written since it opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from presence_actors.model import PresenceRecord, PresenceStatus
from presence_actors.ports import DirectoryData

from ..backend import Trace, Upserted
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
    directory_version: int = 1
    writes: int = 0  # a clock of presence writes: what `updated_at` is to the SQL backends
    written_at: dict[int, int] = field(default_factory=dict)  # user -> `writes` when written

    def write(self, record: PresenceRecord) -> None:
        self.writes += 1
        self.presence[record.user_id] = record
        self.written_at[record.user_id] = self.writes


_NAMED: dict[str, MemoryDatabase] = {}


class MemoryBackend:
    def __init__(self, db: MemoryDatabase, trace: Trace | None) -> None:
        self.db = db
        self._trace = trace
        self._opened_at = db.writes

    async def migrate(self) -> list[int]:
        new = [m.version for m in MIGRATIONS if m.version not in self.db.versions]
        self.db.versions.update(new)
        return new

    async def mark_offline(self, except_users: Collection[int]) -> int:
        db, keep = self.db, frozenset(except_users)
        stale = [
            r
            for r in db.presence.values()
            if r.status is not PresenceStatus.OFFLINE
            and r.user_id not in keep
            and db.written_at.get(r.user_id, 0) <= self._opened_at
        ]
        for r in stale:
            db.write(PresenceRecord(r.user_id, PresenceStatus.OFFLINE, r.last_seen))
        return len(stale)

    async def upsert(self, batch: Sequence[PresenceRecord], per_statement: int) -> Upserted:
        if self._trace is not None:
            for _ in range(0, len(batch), per_statement):
                self._trace(_UPSERT)
        db = self.db
        known = [r for r in batch if r.user_id in db.users]
        written = []
        for r in known:
            stored = db.presence.get(r.user_id)
            if stored is None or stored.last_seen <= r.last_seen:
                db.write(r)
                written.append(r.user_id)
        unknown = frozenset(r.user_id for r in batch) - {r.user_id for r in known}
        return Upserted(frozenset(written), unknown)

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

    async def fetch_directory_version(self) -> int:
        return self.db.directory_version

    async def import_directory(self, doc: DirectoryImport, replace: bool) -> dict[str, int]:
        db = self.db
        error = first_unknown(doc, set() if replace else set(db.users))
        if error is not None:
            raise error
        removed = _remove_unnamed(db, doc) if replace else {}
        for uid, name in doc.users:
            db.users[uid] = name if name is not None else db.users.get(uid, "")
        db.partnerships.update(doc.partnerships)
        db.circles.update((cid, (name, frozenset(m))) for cid, name, m in doc.circles)
        db.conversations.update((cid, frozenset(m)) for cid, m in doc.conversations)
        db.directory_version += 1
        return removed

    async def ping(self) -> None:
        return None


def _remove_unnamed(db: MemoryDatabase, doc: DirectoryImport) -> dict[str, int]:
    users = {uid for uid, _ in doc.users}
    gone = set(db.users) - users
    for uid in gone:
        del db.users[uid]
        db.presence.pop(uid, None)
    pairs = set(doc.partnerships)
    removed_pairs = {p for p in db.partnerships if p not in pairs}
    db.partnerships -= removed_pairs
    circles = {cid for cid, _, _ in doc.circles}
    conversations = {cid for cid, _ in doc.conversations}
    removed = {
        "users": len(gone),
        "partnerships": len(removed_pairs),
        "circles": len(set(db.circles) - circles),
        "conversations": len(set(db.conversations) - conversations),
    }
    db.circles = {cid: c for cid, c in db.circles.items() if cid in circles}
    db.conversations = {cid: c for cid, c in db.conversations.items() if cid in conversations}
    return removed


@asynccontextmanager
async def open_memory(name: str, trace: Trace | None = None) -> AsyncIterator[MemoryBackend]:
    db = _NAMED.setdefault(name, MemoryDatabase()) if name else MemoryDatabase()
    yield MemoryBackend(db, trace)
