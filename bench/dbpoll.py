"""A load-process role that watches `user_presence` in Postgres (asyncpg, asyncio).

It polls the whole table every `period` seconds and keeps, per user, only the changes of
status it saw, stamped with the monotonic time the query started (a row a query returns
was committed before that instant).
"""

from __future__ import annotations

import asyncio
import time

import asyncpg


class Poller:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: asyncpg.Connection | None = None

    async def _rows(self):
        if self.conn is None:
            self.conn = await asyncpg.connect(self.dsn)
        return await self.conn.fetch("SELECT user_id, status, last_seen FROM user_presence")

    async def watch(self, duration: float, period: float = 0.2) -> dict:
        seen: dict[int, str] = {}
        changes: dict[int, list[tuple[float, str]]] = {}
        queries, slowest = 0, 0.0
        start = time.monotonic()
        while (t := time.monotonic()) - start < duration:
            rows = await self._rows()
            slowest = max(slowest, time.monotonic() - t)
            queries += 1
            for uid, status, _ in rows:
                if seen.get(uid) != status:
                    seen[uid] = status
                    changes.setdefault(uid, []).append((t, status))
            await asyncio.sleep(max(0.0, t + period - time.monotonic()))
        return {"changes": changes, "queries": queries, "slowest": slowest}

    async def snapshot(self) -> dict[int, tuple[str, str | None]]:
        """Every row as (status, last_seen rendered like the API: whole seconds, Z)."""
        out = {}
        for uid, status, last_seen in await self._rows():
            out[uid] = (status, _render(last_seen))
        return out

    async def aclose(self) -> None:
        if self.conn is not None:
            await self.conn.close()


def _render(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        import datetime as dt

        value = dt.datetime.fromtimestamp(int(value), dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
