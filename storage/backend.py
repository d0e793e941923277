"""What the storage actor needs from a database: the backend port.

Only the storage actor calls these, from its own task tree (the Postgres backend must run
inside the trio-asyncio loop that task owns). Each call is one round trip or one
transaction; the actor adds deadlines, retries and the write-behind buffer around them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from presence_actors.model import PresenceRecord, PresenceStatus
from presence_actors.ports import DirectoryData

from .directory_file import DirectoryImport

Trace = Callable[[str], None]  # called with the SQL text of every statement executed


def stored_status(text: str) -> PresenceStatus:
    """A status column's value; anything another writer left there that we do not know
    reads as offline rather than failing the read (and the store's readiness)."""
    try:
        return PresenceStatus(text)
    except ValueError:
        return PresenceStatus.OFFLINE


class Backend(Protocol):
    async def migrate(self) -> list[int]:
        """Apply missing migrations under a cross-process lock; the versions applied."""

    async def mark_all_offline(self) -> int:
        """Set every non-offline status offline, keeping last_seen; rows changed."""

    async def upsert(self, batch: Sequence[PresenceRecord]) -> set[int]:
        """Write a batch (one user at most once) in one statement; the user ids written.

        Snapshots of users missing from `users` are skipped, never an error.
        """

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]: ...

    async def fetch_directory(self) -> DirectoryData: ...

    async def import_directory(self, doc: DirectoryImport) -> None:
        """Upsert the file's contents in one transaction (raises DirectoryFileError)."""

    async def ping(self) -> None: ...


BackendOpener = Callable[[], AbstractAsyncContextManager[Backend]]
