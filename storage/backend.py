"""What the storage actor needs from a database: the backend port.

Only the storage actor calls these, from its own task tree. Each call is one round trip or
one transaction; the actor adds deadlines, retries and the write-behind buffer around them.
A backend must let a trio deadline end any call promptly (the Postgres backend's calls
run on a thread of their own and are abandoned, not awaited, when cancelled).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from presence_actors.model import PresenceRecord, PresenceStatus
from presence_actors.ports import DirectoryData

from .directory_file import DirectoryImport

Trace = Callable[[str], None]  # called with the SQL text of every statement executed

DIRECTORY_SECTIONS = ("users", "partnerships", "circles", "conversations")


def stored_status(text: str) -> PresenceStatus:
    """A status column's value; anything another writer left there that we do not know
    reads as offline rather than failing the read (and the store's readiness)."""
    try:
        return PresenceStatus(text)
    except ValueError:
        return PresenceStatus.OFFLINE


@dataclass(frozen=True, slots=True)
class Upserted:
    """What one batch write did. Users of the batch in neither set were skipped because
    the stored row is newer (another node wrote a later `last_seen`)."""

    written: frozenset[int]  # rows that now hold the batch's snapshot
    unknown: frozenset[int]  # users not in `users`: skipped


class Backend(Protocol):
    async def migrate(self) -> list[int]:
        """Apply missing migrations under a cross-process lock; the versions applied."""

    async def mark_offline(self, except_users: Collection[int]) -> int:
        """Set non-offline statuses offline, keeping last_seen; rows changed.

        Only rows nobody wrote since this backend was opened (what earlier runs left),
        and never those of `except_users`.
        """

    async def upsert(self, batch: Sequence[PresenceRecord], per_statement: int) -> Upserted:
        """Write a batch (one user at most once) in one transaction, `per_statement` rows
        per statement.

        Never moves `last_seen` backwards: a snapshot older than the stored row is skipped.
        Snapshots of users missing from `users` are skipped, never an error.
        """

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]: ...

    async def fetch_directory(self) -> DirectoryData: ...

    async def fetch_directory_version(self) -> int:
        """The counter every change to a directory table bumps (one row, one read)."""

    async def import_directory(self, doc: DirectoryImport, replace: bool) -> dict[str, int]:
        """Upsert the file's contents in one transaction (raises DirectoryFileError).

        With `replace`, also remove what the file does not name; the counts removed, by
        section (`DIRECTORY_SECTIONS`).
        """

    async def ping(self) -> None: ...


BackendOpener = Callable[[], AbstractAsyncContextManager[Backend]]
