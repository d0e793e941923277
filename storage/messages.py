"""The storage actor's requests: a closed set, each carrying its deadline and `ReplySlot`.

The reply slot is the one the domain actors use (`presence_actors.mailbox.ReplySlot`): the
actor `set`s the answer or `fail`s it with the error to raise. The deadline is the caller's
(trio time): the actor gives the database until then, and answers by then.
"""

from __future__ import annotations

from dataclasses import dataclass

from presence_actors.mailbox import ReplySlot

from .directory_file import DirectoryImport


@dataclass(frozen=True, slots=True)
class LoadPresence:
    """Rows of these users; while the database is down or late, `{}` (answered from memory)."""

    user_ids: tuple[int, ...]
    deadline: float
    reply: ReplySlot


@dataclass(frozen=True, slots=True)
class LoadDirectory:
    """The whole directory; `stale_ok`: the last one loaded while the database is unreachable."""

    stale_ok: bool
    deadline: float
    reply: ReplySlot


@dataclass(frozen=True, slots=True)
class LoadDirectoryVersion:
    """The directory's change counter; the last one read while the database is unreachable."""

    deadline: float
    reply: ReplySlot


@dataclass(frozen=True, slots=True)
class ImportDirectory:
    """Upsert (or with `replace`, become exactly) a validated directory file."""

    doc: DirectoryImport
    replace: bool
    deadline: float
    reply: ReplySlot


@dataclass(frozen=True, slots=True)
class MarkOffline:
    """Statuses left by earlier runs go offline, except these users' (a live node holds them)."""

    except_users: frozenset[int]
    deadline: float
    reply: ReplySlot


@dataclass(frozen=True, slots=True)
class FlushPending:
    """Write everything pending now, ignoring the interval and any backoff."""

    deadline: float
    reply: ReplySlot


Request = (
    LoadPresence
    | LoadDirectory
    | LoadDirectoryVersion
    | ImportDirectory
    | MarkOffline
    | FlushPending
)
