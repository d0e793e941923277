"""Who writes a user's presence to the store: one node at a time, the same on every node.

Every node computes `owner_of(user, live nodes)` by rendezvous (highest random weight)
hashing: the node whose hash with the user is highest. Nodes that agree on who is up agree
on the owner without a word; when a node leaves, only the users it owned move (to their
next-highest node), and a node joining takes over only the users it now ranks first for.
The other nodes skip `Persist` for that user. While nodes disagree about who is up (for
NODE_TTL at most), two may both write: the store keeps the later `last_seen` (SPEC §13),
so a duplicate write costs a statement, never a regression.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable


def weight(node: str, user_id: int) -> int:
    digest = hashlib.blake2b(f"{node}\x00{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(user_id: int, nodes: Iterable[str]) -> str:
    """The node that persists this user.

    Raises:
        ValueError: no node at all (a node always counts itself).
    """
    return max(nodes, key=lambda node: (weight(node, user_id), node))


@functools.lru_cache(maxsize=1 << 16)
def cached_owner_of(user_id: int, nodes: frozenset[str]) -> str:
    """`owner_of`, remembered per (user, live nodes): every change a node applies asks it,
    and a blake2b per live node per change was 3-4 % of F6's receiving node. The set of
    live nodes changes rarely; a new set simply misses (the old entries age out)."""
    return owner_of(user_id, nodes)
