"""The directory file of SPEC §12: validation, normalisation and the export shape.

A file is checked whole before anything is written, and a rejection names the first bad
entry in file order by section (`users`, `partnerships`, `circles`, `conversations`),
e.g. `users[3].id: must be a positive integer`. References to users that are neither in
the file nor in the database are checked by the backend inside the import transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from presence_actors.ports import DirectoryData

from .writebehind import MAX_USER_ID

Id = Annotated[int, Field(strict=True, gt=0, le=MAX_USER_ID)]
Name = Annotated[str, Field(strict=True, max_length=200, pattern=r"^[^\x00]*$")]


class DirectoryFileError(ValueError):
    """A directory file was rejected; `location` is the first bad entry (`users[3].id`)."""

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(f"{location}: {problem}")
        self.location = location
        self.problem = problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _User(_Strict):
    id: Id
    display_name: Name | None = None  # omitted: keep the existing name ("" for a new user)


class _Circle(_Strict):
    id: Id
    name: Name
    members: list[Id] = []


class _Conversation(_Strict):
    id: Id
    participants: list[Id] = []


class _File(_Strict):
    users: list[_User] = []
    partnerships: list[Annotated[list[Id], Field(min_length=2, max_length=2)]] = []
    circles: list[_Circle] = []
    conversations: list[_Conversation] = []


@dataclass(frozen=True)
class DirectoryImport:
    """A validated file: sorted, de-duplicated, ready to write in one transaction."""

    users: tuple[tuple[int, str | None], ...]
    partnerships: tuple[tuple[int, int], ...]  # (low, high)
    circles: tuple[tuple[int, str, tuple[int, ...]], ...]
    conversations: tuple[tuple[int, tuple[int, ...]], ...]
    # (location, user id) of every reference to a user, in file order
    references: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)


_MESSAGES = {
    "greater_than": "must be a positive integer",
    "int_type": "must be a positive integer",
    "less_than_equal": f"must be at most {MAX_USER_ID}",
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "string_too_long": "must be at most 200 characters",
    "string_pattern_mismatch": "must not contain NUL characters",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "too_short": "must be a pair of user ids",
    "too_long": "must be a pair of user ids",
}


def _location(loc: Iterable[str | int]) -> str:
    text = "directory"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text = f"{text}[{part}]" if i else f"[{part}]"
        else:
            text = part if i == 0 else f"{text}.{part}"
    return text


def parse_directory(data: object) -> DirectoryImport:
    """Validate a decoded file; raise DirectoryFileError naming the first bad entry."""
    if not isinstance(data, dict):
        raise DirectoryFileError("directory", "must be a JSON object")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        problem = _MESSAGES.get(first["type"], first["msg"])
        raise DirectoryFileError(_location(first["loc"]), problem) from None
    return _normalise(parsed)


def _first(item: tuple) -> int:
    return item[0]


def _unique(location: str, seen: set[int], value: int, what: str) -> None:
    if value in seen:
        raise DirectoryFileError(location, f"duplicate {what} {value}")
    seen.add(value)


def _normalise(parsed: _File) -> DirectoryImport:
    refs: list[tuple[str, int]] = []
    user_ids: set[int] = set()
    for i, user in enumerate(parsed.users):
        _unique(f"users[{i}].id", user_ids, user.id, "user id")
    pairs = set()
    for i, (a, b) in enumerate(parsed.partnerships):
        if a == b:
            raise DirectoryFileError(f"partnerships[{i}]", "a user cannot partner themselves")
        refs += [(f"partnerships[{i}][0]", a), (f"partnerships[{i}][1]", b)]
        pairs.add((min(a, b), max(a, b)))
    circles = _groups("circles", "members", parsed.circles, refs)
    conversations = _groups("conversations", "participants", parsed.conversations, refs)
    return DirectoryImport(
        users=tuple(sorted(((u.id, u.display_name) for u in parsed.users), key=_first)),
        partnerships=tuple(sorted(pairs)),
        circles=tuple(sorted((c.id, c.name, members) for c, members in circles)),
        conversations=tuple(sorted((c.id, members) for c, members in conversations)),
        references=tuple(refs),
    )


def _groups(section: str, field: str, entries: list, refs: list[tuple[str, int]]) -> list:
    ids: set[int] = set()
    out = []
    for i, entry in enumerate(entries):
        _unique(f"{section}[{i}].id", ids, entry.id, f"{section[:-1]} id")
        members = getattr(entry, field)
        refs += [(f"{section}[{i}].{field}[{j}]", uid) for j, uid in enumerate(members)]
        out.append((entry, tuple(sorted(set(members)))))
    return out


def first_unknown(doc: DirectoryImport, existing: set[int]) -> DirectoryFileError | None:
    """The error for the first reference to a user neither in the file nor in `existing`."""
    known = existing | {uid for uid, _ in doc.users}
    for location, uid in doc.references:
        if uid not in known:
            return DirectoryFileError(location, f"user {uid} is not in users")
    return None


def export_shape(data: DirectoryData) -> dict:
    """A DirectoryData as the JSON shape of SPEC §12, sorted so exports diff cleanly."""
    return {
        "users": [{"id": uid, "display_name": data.users[uid]} for uid in sorted(data.users)],
        "partnerships": [list(pair) for pair in sorted(data.partnerships)],
        "circles": [
            {"id": cid, "name": name, "members": sorted(members)}
            for cid, (name, members) in sorted(data.circles.items())
        ],
        "conversations": [
            {"id": cid, "participants": sorted(members)}
            for cid, members in sorted(data.conversations.items())
        ],
    }
