"""`python -m storage import/export`, `presence-actors directory import --replace`, and the
async entry points the web CLI calls."""

from __future__ import annotations

import json

import trio
from click.testing import CliRunner

from presence_actors.model import PresenceRecord, PresenceStatus
from storage import DirectoryFileError, export_directory, import_directory_file, open_store
from web.cli import main as web_cli

from .helpers import rows_in_database
from .test_migrations import run_cli

DIRECTORY = {
    "users": [{"id": 1, "display_name": "Ada"}, {"id": 2, "display_name": "Grace"}],
    "partnerships": [[1, 2]],
    "circles": [{"id": 7, "name": "Book club", "members": [1, 2]}],
    "conversations": [{"id": 10, "participants": [1, 2]}],
}


async def test_import_then_export_through_the_command_line(sqlite_url, tmp_path):
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(DIRECTORY))
    with trio.fail_after(30):
        imported = await run_cli("import", sqlite_url, str(path))
        assert imported.returncode == 0, imported.stderr.decode()
        exported = await run_cli("export", sqlite_url)
    assert exported.returncode == 0, exported.stderr.decode()
    assert json.loads(exported.stdout) == DIRECTORY


async def test_malformed_file_exits_1_naming_the_first_bad_entry(sqlite_url, tmp_path):
    bad = {"users": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": "4"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with trio.fail_after(30):
        proc = await run_cli("import", sqlite_url, str(path))
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "error: users[3].id: must be a positive integer"


async def test_entry_points_under_trio(sqlite_url, tmp_path):
    good, broken = tmp_path / "good.json", tmp_path / "broken.json"
    good.write_text(json.dumps(DIRECTORY))
    broken.write_text('{"users": [')
    with trio.fail_after(20):
        counts = await import_directory_file(sqlite_url, good)
        assert counts == {"users": 2, "partnerships": 1, "circles": 1, "conversations": 1}
        assert await export_directory(sqlite_url) == DIRECTORY
        try:
            await import_directory_file(sqlite_url, broken)
        except DirectoryFileError as exc:
            assert str(exc).startswith(f"{broken}: not valid JSON")
        else:
            raise AssertionError("a broken file was accepted")


async def test_url_from_the_environment_and_usage_errors(sqlite_url):
    with trio.fail_after(30):
        migrated = await run_cli("migrate", PRESENCE_DATABASE_URL=sqlite_url)
        assert migrated.returncode == 0, migrated.stderr.decode()
        exported = await run_cli("export", PRESENCE_DATABASE_URL=sqlite_url)
        assert json.loads(exported.stdout)["users"] == []
        for args in (("export",), ("frobnicate", sqlite_url), ("import", sqlite_url)):
            proc = await run_cli(*args)
            assert proc.returncode == 2
            assert proc.stderr.startswith(b"usage: python -m storage")


async def test_command_line_tools_never_mark_statuses_offline(sqlite_url, tmp_path):
    """Only a serving node, once it listens, marks statuses offline (SPEC §5): an operator's
    migrate, import or export while the service runs must leave live statuses alone."""
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(DIRECTORY))
    with trio.fail_after(60):
        async with open_store(sqlite_url) as store:
            await store.import_directory(DIRECTORY)
            store.persist(PresenceRecord(1, PresenceStatus.ONLINE, 1_700_000_000.0))
        for args in (("migrate", sqlite_url), ("import", sqlite_url, str(path)),
                     ("export", sqlite_url)):
            assert (await run_cli(*args)).returncode == 0
        runner = CliRunner()
        for args in (["migrate"], ["directory", "import", str(path)], ["directory", "export"]):
            result = await trio.to_thread.run_sync(
                runner.invoke, web_cli, [*args, "--database-url", sqlite_url]
            )
            assert result.exit_code == 0, result.output
        rows = await rows_in_database(sqlite_url)
    assert rows[1][0] == "online"


async def test_presence_actors_directory_import_replace(sqlite_url, tmp_path):
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(DIRECTORY))
    runner = CliRunner()
    with trio.fail_after(60):
        first = await trio.to_thread.run_sync(
            runner.invoke, web_cli, ["directory", "import", str(path), "--database-url", sqlite_url]
        )
        assert first.output.strip() == (
            f"imported 2 users, 1 partnerships, 1 circles, 1 conversations into {sqlite_url}"
        )
        path.write_text(json.dumps({"users": [{"id": 2}]}))
        replaced = await trio.to_thread.run_sync(
            runner.invoke,
            web_cli,
            ["directory", "import", "--replace", str(path), "--database-url", sqlite_url],
        )
        assert replaced.exit_code == 0, replaced.output
        assert replaced.output.strip() == (
            f"replaced the directory of {sqlite_url}: 1 users, 0 partnerships, 0 circles, "
            "0 conversations; removed 1 users, 1 partnerships, 1 circles, 1 conversations"
        )
        assert await export_directory(sqlite_url) == {
            "users": [{"id": 2, "display_name": "Grace"}],
            "partnerships": [],
            "circles": [],
            "conversations": [],
        }
