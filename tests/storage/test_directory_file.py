"""Directory file validation: whole-file, first bad entry named, normalised output."""

from __future__ import annotations

import pytest

from presence_actors.ports import DirectoryData
from storage.directory_file import DirectoryFileError, export_shape, parse_directory


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "directory: must be a JSON object"),
        ({"users": {"id": 1}}, "users: must be a list"),
        ({"users": [{"id": 1}, {"id": 2.0}]}, "users[1].id: must be a positive integer"),
        ({"users": [{"id": True}]}, "users[0].id: must be a positive integer"),
        ({"users": [{"id": 2**31}]}, "users[0].id: must be at most 2147483647"),
        ({"users": [{"id": 1}, {"id": 1}]}, "users[1].id: duplicate user id 1"),
        ({"users": [{"id": 1, "role": "x"}]}, "users[0].role: is not a known field"),
        ({"groups": []}, "groups: is not a known field"),
        ({"partnerships": [[1, 2], [3]]}, "partnerships[1]: must be a pair of user ids"),
        ({"partnerships": [[4, 4]]}, "partnerships[0]: a user cannot partner themselves"),
        ({"circles": [{"id": 1, "members": []}]}, "circles[0].name: is required"),
        ({"conversations": [{"id": 5}, {"id": 5}]}, "conversations[1].id: duplicate"),
        ({"users": [{"id": 1, "display_name": 7}]}, "users[0].display_name: must be a string"),
    ],
)
def test_rejections_name_the_first_bad_entry(data, message):
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(data)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


def test_a_valid_file_is_normalised():
    doc = parse_directory(
        {
            "users": [{"id": 2, "display_name": "Grace"}, {"id": 1}],
            "partnerships": [[2, 1], [1, 2]],
            "circles": [{"id": 7, "name": "Book club", "members": [2, 1, 2]}],
            "conversations": [{"id": 10, "participants": [3, 1]}],
        }
    )
    assert doc.users == ((1, None), (2, "Grace"))
    assert doc.partnerships == ((1, 2),)
    assert doc.circles == ((7, "Book club", (1, 2)),)
    assert doc.conversations == ((10, (1, 3)),)
    assert [loc for loc, _ in doc.references][-1] == "conversations[0].participants[1]"


def test_export_shape_is_sorted():
    data = DirectoryData(
        users={2: "b", 1: "a"},
        partnerships=frozenset({(2, 3), (1, 2)}),
        circles={9: ("c", frozenset({3, 1}))},
        conversations={4: frozenset({2, 1})},
    )
    assert export_shape(data) == {
        "users": [{"id": 1, "display_name": "a"}, {"id": 2, "display_name": "b"}],
        "partnerships": [[1, 2], [2, 3]],
        "circles": [{"id": 9, "name": "c", "members": [1, 3]}],
        "conversations": [{"id": 4, "participants": [1, 2]}],
    }
