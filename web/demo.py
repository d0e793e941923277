"""The demo directory `serve` imports into an empty store, so a fresh checkout has users.

Ada and Grace are partners; Ada, Grace, Linus and Barbara are in a book club; Ada and Alan
share a conversation; Edsger is alone (he sees only himself). Mint a token for any of them
with `presence-actors token 1`.
"""

from __future__ import annotations

import logging

from presence_actors import DirectoryData, MemoryStore
from storage import Store

log = logging.getLogger("web")

DEMO_DIRECTORY = {
    "users": [
        {"id": 1, "display_name": "Ada"},
        {"id": 2, "display_name": "Grace"},
        {"id": 3, "display_name": "Alan"},
        {"id": 4, "display_name": "Linus"},
        {"id": 5, "display_name": "Barbara"},
        {"id": 6, "display_name": "Edsger"},
    ],
    "partnerships": [[1, 2]],
    "circles": [{"id": 1, "name": "Book club", "members": [1, 2, 4, 5]}],
    "conversations": [
        {"id": 1, "participants": [1, 2]},
        {"id": 2, "participants": [1, 3]},
        {"id": 3, "participants": [2, 4, 5]},
    ],
}


def directory_data(document: dict):
    """A directory file's content (SPEC §12 format) as the core's `DirectoryData`."""
    return DirectoryData(
        users={u["id"]: u["display_name"] for u in document["users"]},
        partnerships=frozenset((min(a, b), max(a, b)) for a, b in document["partnerships"]),
        circles={c["id"]: (c["name"], frozenset(c["members"])) for c in document["circles"]},
        conversations={
            c["id"]: frozenset(c["participants"]) for c in document["conversations"]
        },
    )


async def import_demo(store) -> None:
    """Write the demo directory into one of the two stores `serve` and the tests run on.

    The storage port (`presence_actors.ports`) has no directory writes: the actors never
    change the directory. So this names the two stores that can take one, each by its own
    means, and refuses anything else rather than guessing from the methods it happens to have.

    Raises:
        TypeError: `store` is neither a `storage.Store` nor a `presence_actors.MemoryStore`.
    """
    if isinstance(store, Store):  # every PRESENCE_DATABASE_URL: an upsert, like the CLI's
        await store.import_directory(DEMO_DIRECTORY)
    elif isinstance(store, MemoryStore):  # keeps the directory in a field (bumps its version)
        store.directory = directory_data(DEMO_DIRECTORY)
    else:
        raise TypeError(f"cannot import the demo directory into a {type(store).__name__}")


async def install_demo(service) -> bool:
    """Import the demo directory if the store's directory is empty; True if it did.

    Raises:
        TypeError: the service runs on a store `import_demo` cannot write to.
    """
    store = service.store
    current = await store.load_directory()
    if current.users:
        return False
    await import_demo(store)
    await service.refresh_directory(force=True)
    log.info("imported the demo directory (%d users)", len(DEMO_DIRECTORY["users"]))
    return True
