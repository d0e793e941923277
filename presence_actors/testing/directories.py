"""The directories a kit runs with: the default cast, and the SPEC §12 file shape read as
`presence-actors directory import` reads it (same validation, same error messages).
"""

from __future__ import annotations

from collections.abc import Mapping

from presence_actors import DirectoryData
from storage.directory_file import first_unknown, parse_directory

# Who sees whom in the default kit (SPEC §4: partners, a circle or a conversation):
#   1 Ada    partner of 2; circle 7 with 2 and 3; conversation 10 with 2
#   2 Grace  partner of 1; circle 7; conversations 10 and 11
#   3 Alan   circle 7; conversation 11 with 2
#   4 Linus  alone: sees only himself, and nobody sees him
DEFAULT_DIRECTORY: Mapping = {
    "users": [
        {"id": 1, "display_name": "Ada"},
        {"id": 2, "display_name": "Grace"},
        {"id": 3, "display_name": "Alan"},
        {"id": 4, "display_name": "Linus"},
    ],
    "partnerships": [[1, 2]],
    "circles": [{"id": 7, "name": "Book club", "members": [1, 2, 3]}],
    "conversations": [{"id": 10, "participants": [1, 2]}, {"id": 11, "participants": [2, 3]}],
}


def directory_data(directory: Mapping | DirectoryData) -> DirectoryData:
    """A directory in the SPEC §12 JSON shape (or already `DirectoryData`) as the core's
    `DirectoryData`. A directory replaces the whole one; every user it names must be in
    its own `users`.

    Raises:
        storage.DirectoryFileError: the first bad entry, as the CLI import names it.
    """
    if isinstance(directory, DirectoryData):
        return directory
    parsed = parse_directory(dict(directory) if isinstance(directory, Mapping) else directory)
    unknown = first_unknown(parsed, set())
    if unknown is not None:
        raise unknown
    return DirectoryData(
        users={uid: name or "" for uid, name in parsed.users},
        partnerships=frozenset(parsed.partnerships),
        circles={cid: (name, frozenset(members)) for cid, name, members in parsed.circles},
        conversations={cid: frozenset(members) for cid, members in parsed.conversations},
    )
