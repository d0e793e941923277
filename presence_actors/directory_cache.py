"""The directory snapshot everyone reads, and when it is reloaded from the store.

SPEC §4: directory changes take effect within 30 s, and a CLI import on every running node
within 1 s. A store with a directory version (`load_directory_version`, bumped in the
changing transaction by whoever changes the directory) is polled every `directory_poll`
(0.5 s): an unchanged directory costs that one tiny query, a changed one a reload. A store
without a version is reloaded every `directory_refresh` (30 s) instead, and so is every
store when `directory_poll` is 0 (directory tables replaced by views, whose version never
moves). The version is read before the directory, so a change between the two shows as
a new version at the next poll (one reload too many), never as a missed change.

A lookup that would otherwise be denied reloads at once, since a denial may be a change
not loaded yet. Those reloads are throttled to one per `directory_min_refresh` (1 s), so
a client asking about strangers cannot turn every request into a directory load, and
concurrent ones coalesce behind one lock: a caller that waited while another reload
ran uses that one. A forced reload (the poll's, the periodic one, or after an import)
uses only a load that began after it was asked, so it always sees what was written
before it. An unchanged load keeps the snapshot and its cached visible sets.

The snapshot is published in `ActorContext.directory`, which only this class writes; in
the same step, `on_change(old, new)` tells open sockets what changed (`directory_pushes`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection

import trio

from .context import ActorContext
from .directory import Directory

log = logging.getLogger("presence_actors.directory")


class DirectoryCache:
    def __init__(self, context: ActorContext) -> None:
        self._context = context
        self._loaded_at = -math.inf  # trio time the last load completed
        self._begun = 0  # loads begun so far
        self._latest = 0  # the number of the last load that completed (1 is the first)
        self._version: object = None  # the store's directory version at the last load
        self._lock = trio.Lock()
        self.on_change: Callable[[Directory, Directory], None] = lambda old, new: None

    @property
    def current(self) -> Directory:
        return self._context.directory

    @property
    def versioned(self) -> bool:
        """True when changes are found by polling the store's directory version."""
        store = self._context.store
        has_version = getattr(store, "load_directory_version", None) is not None
        return has_version and self._context.timing.directory_poll > 0

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
        version = await context.store.load_directory_version() if self.versioned else None
        data = await context.store.load_directory()
        if data != context.directory.data:
            old = context.directory
            context.directory = new = Directory(data)
            if self._latest:  # the first load has nobody to tell
                self._tell(old, new)
        self._version = version
        self._loaded_at, self._latest = trio.current_time(), number

    def _tell(self, old: Directory, new: Directory) -> None:
        try:
            self.on_change(old, new)
        except Exception:  # a bug there must not stop the directory from loading
            log.exception("pushing a directory change to open sockets failed")

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
        """Poll the version (or reload periodically) forever; a failure is logged and the
        next round tries again (the snapshot in use is kept meanwhile)."""
        timing = self._context.timing
        versioned = self.versioned
        period = timing.directory_poll if versioned else timing.directory_refresh
        while True:
            await trio.sleep(period)
            try:
                if not versioned or await self._moved():
                    await self.refresh(force=True)
            except Exception as error:
                log.warning("directory reload failed (%s); keeping the last one", error)

    async def _moved(self) -> bool:
        return await self._context.store.load_directory_version() != self._version
