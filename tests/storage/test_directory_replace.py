"""`import_directory(..., replace=True)`: the directory becomes exactly the file (issue 8.3).

What the file does not name is removed in the same transaction, a removed user's presence
row with it; the file is validated like any import, against itself alone (nothing outside
it will remain), and a rejected file changes nothing. On every backend.
"""

from __future__ import annotations

import json
import time

import pytest
import trio

from storage import DirectoryFileError, open_store

from .helpers import FAST, directory, record, rows_in_database
from .test_migrations import run_cli

NOW = time.time()
BEFORE = directory(
    4,
    partnerships=[[1, 2], [3, 4]],
    circles=[
        {"id": 7, "name": "Book club", "members": [1, 2, 3]},
        {"id": 8, "name": "Chess", "members": [3, 4]},
    ],
    conversations=[{"id": 10, "participants": [1, 2]}, {"id": 11, "participants": [3, 4]}],
)
AFTER = {
    "users": [{"id": 1, "display_name": "Ada"}, {"id": 2}, {"id": 5, "display_name": "Eve"}],
    "partnerships": [[5, 1]],
    "circles": [{"id": 7, "name": "Books", "members": [1, 5]}],
    "conversations": [{"id": 12, "participants": [2, 5]}],
}


async def test_replace_makes_the_directory_exactly_the_file(store_url):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(BEFORE)
            for uid in (1, 3, 4):
                store.persist(record(uid, "online", NOW))
            await store.flush()
            removed = await store.import_directory(AFTER, replace=True)
            exported = await store.export_directory()
            assert set(await store.load_presence([1, 3, 4])) == {1}
    assert removed == {"users": 2, "partnerships": 2, "circles": 1, "conversations": 2}
    assert exported == {
        "users": [
            {"id": 1, "display_name": "Ada"},
            {"id": 2, "display_name": "user 2"},  # no name in the file: the name is kept
            {"id": 5, "display_name": "Eve"},
        ],
        "partnerships": [[1, 5]],
        "circles": [{"id": 7, "name": "Books", "members": [1, 5]}],
        "conversations": [{"id": 12, "participants": [2, 5]}],
    }
    assert set(await rows_in_database(store_url)) == {1}  # 3 and 4 left with their users


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        # user 3 exists in the database, but would not after the replace
        ({"users": [{"id": 1}], "partnerships": [[1, 3]]}, "partnerships[0][1]: user 3 is not"),
        ({"users": [{"id": 1}, {"id": 1}]}, "users[1].id: duplicate user id 1"),
        ({"users": [{"id": 0}]}, "users[0].id: must be a positive integer"),
    ],
)
async def test_a_rejected_replace_changes_nothing(store_url, bad, message):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(BEFORE)
            before = await store.export_directory()
            version = await store.load_directory_version()
            with pytest.raises(DirectoryFileError) as caught:
                await store.import_directory(bad, replace=True)
            assert str(caught.value).startswith(message)
            assert await store.export_directory() == before
            assert await store.load_directory_version() == version


async def test_an_empty_file_replaces_the_directory_with_nothing(store_url):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(BEFORE)
            removed = await store.import_directory({}, replace=True)
            exported = await store.export_directory()
    assert removed == {"users": 4, "partnerships": 2, "circles": 2, "conversations": 2}
    assert exported == {"users": [], "partnerships": [], "circles": [], "conversations": []}


async def test_replace_through_the_command_line(sqlite_url, tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(BEFORE))
    after.write_text(json.dumps(AFTER))
    with trio.fail_after(30):
        assert (await run_cli("import", sqlite_url, str(before))).returncode == 0
        proc = await run_cli("import", "--replace", sqlite_url, str(after))
        assert proc.returncode == 0, proc.stderr.decode()
        exported = await run_cli("export", sqlite_url)
    assert proc.stdout.decode().strip() == (
        "replaced the directory: 3 users, 1 partnerships, 1 circles, 1 conversations; "
        "removed 2 users, 2 partnerships, 1 circles, 2 conversations"
    )
    assert [u["id"] for u in json.loads(exported.stdout)["users"]] == [1, 2, 5]
