"""Directory files for each scenario, in the shape of `presence-actors directory import`.

Ids start at 1. Helpers return who sees whom, so the bench knows what every subscriber
must receive without asking the service.
"""

from __future__ import annotations

import json
from pathlib import Path


def users(ids) -> list[dict]:
    return [{"id": i, "display_name": f"u{i}"} for i in ids]


def fanout(subscribers: int) -> dict:
    """User 1 is watched by users 2..n+1 (partners of 1 only, so they see nobody else)."""
    ids = range(1, subscribers + 2)
    return {"users": users(ids), "partnerships": [[1, i] for i in ids if i != 1]}


def ring_contacts(uid: int, n: int, contacts: int) -> list[int]:
    """Users 1..n on a ring; each is partnered with the `contacts` nearest (half each side)."""
    half = contacts // 2
    return [((uid - 1 + d) % n) + 1 for d in range(-half, half + 1) if d != 0]


def mix(n: int, contacts: int = 50, conversation_size: int = 3) -> dict:
    """A ring lattice of partners; conversations group neighbours (no extra visibility)."""
    half = contacts // 2
    pairs = [[i, ((i - 1 + d) % n) + 1] for i in range(1, n + 1) for d in range(1, half + 1)]
    conversations = [
        {"id": c + 1, "participants": list(range(start, start + conversation_size))}
        for c, start in enumerate(range(1, n - conversation_size + 2, conversation_size))
    ]
    return {"users": users(range(1, n + 1)), "partnerships": pairs, "conversations": conversations}


def isolated(n: int) -> dict:
    return {"users": users(range(1, n + 1))}


def observed(n: int) -> dict:
    """Users 2..n+1 see only themselves and user 1, who sees everyone (for whole-state reads)."""
    return fanout(n)


def write(doc: dict, path: Path) -> Path:
    path.write_text(json.dumps(doc))
    return path
