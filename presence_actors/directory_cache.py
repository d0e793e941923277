"""The directory snapshot everyone reads, and when it is reloaded from the store.

SPEC §4: directory changes take effect within 30 s (`directory_refresh`, a forced reload)
and at once for a lookup that would otherwise be denied, since a denial may be a change
not loaded yet. Those reloads are throttled to one per `directory_min_refresh` (1 s), so
a client asking about strangers cannot turn every request into a directory load, and
concurrent ones coalesce behind one lock: a caller that waited while another reload
ran uses that one. A forced reload (the 30 s one, or after an import) uses only a load
that began after it was asked, so it always sees what was written before it. An
unchanged load keeps the snapshot and its cached visible sets.

The snapshot is published in `ActorContext.directory`, which only this class writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import trio

from .context import ActorContext
from .directory import Directory


class DirectoryCache:
    def __init__(self, context: ActorContext) -> None:
        self._context = context
        self._loaded_at = -math.inf  # trio time the last load completed
        self._begun = 0  # loads begun so far
        self._latest = 0  # the number of the last load that completed (1 is the first)
        self._lock = trio.Lock()

    @property
    def current(self) -> Directory:
        return self._context.directory

    async def refresh(self, force: bool = False) -> Directory:
        """Reload unless the last load completed within `directory_min_refresh` (with
        `force`: unless a load began after this call), and return the snapshot.

        Raises:
            Exception: whatever the store's `load_directory` raises; the snapshot is kept.
        """
        context = self._context
        asked_at, begun_before = trio.current_time(), self._begun
        async with self._lock:
            if force:
                stale = self._latest <= begun_before
            else:
                stale = self._loaded_at < asked_at - context.timing.directory_min_refresh
            if stale:
                await self._load()
        return context.directory

    async def _load(self) -> None:
        context = self._context
        self._begun += 1
        number = self._begun
        data = await context.store.load_directory()
        if data != context.directory.data:
            context.directory = Directory(data)
        self._loaded_at, self._latest = trio.current_time(), number

    async def visible_or_refresh(self, viewer: int, wanted: Collection[int]) -> frozenset[int]:
        """Who `viewer` sees; from a reloaded directory when any of `wanted` is missing.

        Raises:
            Exception: whatever a reload raises (see `refresh`).
        """
        visible = self.current.visible(viewer)
        if not visible.issuperset(wanted):
            visible = (await self.refresh()).visible(viewer)
        return visible

    async def check_or_refresh(self, allowed: Callable[[Directory], bool]) -> bool:
        """`allowed(snapshot)`, asked again of a reloaded directory when it says no.

        Raises:
            Exception: whatever a reload raises (see `refresh`).
        """
        return allowed(self.current) or allowed(await self.refresh())

    async def keep_fresh(self) -> None:
        """Reload every `directory_refresh` seconds, forever (SPEC §4: within 30 s)."""
        while True:
            await trio.sleep(self._context.timing.directory_refresh)
            await self.refresh(force=True)
