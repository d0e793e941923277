"""`MemoryStore`: the storage port kept in two dictionaries, with no storage actor.

The core's tests and the testing kit (SPEC §15) run the service on it: every snapshot is
visible at once and nothing awaits a clock, so timing tests on `MockClock` see exactly
what the actors did. It is not the `memory://` URL: that one runs the real storage actor
(write-behind, flush timings) over `storage/backends/memory.py`, for storage's own tests
and ephemeral deployments.

Like the real store it has a directory version: assigning `directory` bumps it, so a
running service sees the new directory at its next poll (`Timing.directory_poll`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import PresenceRecord
from .ports import DirectoryData


class MemoryStore:
    """The port in memory. `rows` and `directory` are public so tests can set and read them."""

    def __init__(self, directory: DirectoryData | None = None) -> None:
        self.rows: dict[int, PresenceRecord] = {}
        self.version = 0
        self.directory = directory or DirectoryData()

    @property
    def directory(self) -> DirectoryData:
        return self._directory

    @directory.setter
    def directory(self, data: DirectoryData) -> None:
        self._directory = data
        self.version += 1

    def persist(self, record: PresenceRecord) -> None:
        self.rows[record.user_id] = record

    async def load_presence(self, user_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        rows = self.rows
        return {uid: rows[uid] for uid in user_ids if uid in rows}

    async def load_directory(self) -> DirectoryData:
        return self.directory

    async def load_directory_version(self) -> int:
        return self.version

    def ready(self) -> bool:
        return True
