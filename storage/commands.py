"""Entry points for the command line: async functions to run under `trio.run`.

None of them marks statuses offline: that is for a node starting to serve, not for an
operator migrating or importing while the service runs.
"""

from __future__ import annotations

import os

import orjson
import trio

from .backend import DIRECTORY_SECTIONS
from .directory_file import DirectoryFileError
from .errors import StoreUnavailable, describe
from .options import StoreOptions
from .store import backend_opener, open_store
from .url import parse_url

_ONE_SHOT = StoreOptions(flush_interval=3600.0, health_interval=3600.0)


async def migrate(url: str) -> list[int]:
    """Apply missing migrations; the versions applied now ([] when up to date).

    Safe to run twice and from two processes at once (the backend takes a lock).
    """
    parsed = parse_url(url)
    try:
        async with backend_opener(parsed, _ONE_SHOT, None)() as backend:
            return await backend.migrate()
    except Exception as exc:
        raise StoreUnavailable(f"cannot migrate {parsed.redacted()}: {describe(exc)}") from exc


async def import_directory_file(
    url: str, path: str | os.PathLike[str], *, replace: bool = False
) -> dict[str, int]:
    """Import a SPEC §12 JSON file in one transaction; counts of what the file named, and
    with `replace` (the directory becomes exactly the file) also `removed_<section>` counts.

    Raises DirectoryFileError (a ValueError) naming the first bad entry; nothing changes.
    """
    try:
        data = orjson.loads(await trio.Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise DirectoryFileError(str(path), f"not valid JSON ({exc})") from None
    async with open_store(url, options=_ONE_SHOT) as store:
        removed = await store.import_directory(data, replace=replace)
    counts = {key: len(data.get(key, ())) for key in DIRECTORY_SECTIONS}
    return counts | {f"removed_{key}": n for key, n in removed.items()}


def describe_import(counts: dict[str, int], where: str | None = None) -> str:
    """What an import did, for the operator: `imported 2 users, 1 partnerships, ... [into
    URL]`, or `replaced the directory [of URL]: 2 users, ...; removed 3 users, ...`."""
    named = ", ".join(f"{n} {key}" for key, n in counts.items() if not key.startswith("removed_"))
    removed = ", ".join(f"{n} {key[8:]}" for key, n in counts.items() if key.startswith("removed_"))
    if not removed:
        return f"imported {named}" + (f" into {where}" if where else "")
    of = f" of {where}" if where else ""
    return f"replaced the directory{of}: {named}; removed {removed}"


async def export_directory(url: str) -> dict:
    """The whole directory in the SPEC §12 JSON shape (sorted by id)."""
    async with open_store(url, options=_ONE_SHOT) as store:
        return await store.export_directory()
