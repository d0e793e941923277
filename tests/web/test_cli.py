"""The command line: configuration surface, tokens, the directory, and `serve` as a process."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest
import trio
from click.testing import CliRunner
from trio_websocket import ConnectionClosed, open_websocket_url

from web.cli import main
from web.config import SETTINGS, Settings

from .conftest import DIRECTORY, hypercorn_cli, make_token

ROOT = Path(__file__).resolve().parents[2]


def test_serve_help_lists_every_setting_as_a_flag_and_a_variable():
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    spec_names = ["PRESENCE_HOST", "PRESENCE_PORT", "PRESENCE_DATA_DIR", "PRESENCE_DATABASE_URL",
                  "PRESENCE_JWT_SECRET", "PRESENCE_JWT_PUBLIC_KEY", "PRESENCE_JWT_PUBLIC_KEY_FILE",
                  "PRESENCE_JWT_ALGORITHMS", "PRESENCE_JWT_AUDIENCE", "PRESENCE_JWT_ISSUER",
                  "PRESENCE_ONLINE_TTL", "PRESENCE_AWAY_TTL", "PRESENCE_DISCONNECT_GRACE",
                  "PRESENCE_STATUS_MIN_INTERVAL", "PRESENCE_TYPING_TTL",
                  "PRESENCE_MAX_SOCKETS_PER_USER", "PRESENCE_DEMO"]  # SPEC §12, verbatim
    for name in spec_names + [spec.env for spec in SETTINGS]:
        assert name in result.output, name
    for spec in SETTINGS:
        assert spec.flag in result.output, spec.flag


def test_every_setting_is_read_from_its_environment_variable():
    env = {spec.env: {str: "x", int: "7", float: "2.5", bool: "1"}[spec.kind] for spec in SETTINGS}
    settings = Settings.from_env(env)
    for spec in SETTINGS:
        assert getattr(settings, spec.name) == spec.kind(env[spec.env]) if spec.kind is not bool \
            else getattr(settings, spec.name) is True
    timing = Settings.from_env({"PRESENCE_TYPING_TTL": "3", "PRESENCE_ONLINE_TTL": "9"}).timing()
    assert timing.typing_ttl == 3 and timing.online_ttl == 9


def test_docs_configuration_names_every_setting():
    text = (ROOT / "docs" / "configuration.md").read_text()
    for spec in SETTINGS:
        assert f"`{spec.env}`" in text, spec.env
        assert f"`{spec.flag}`" in text, spec.flag


def test_token_is_signed_with_the_dev_secret_kept_in_the_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(main, ["token", "3", "--ttl", "60", "--sid", "phone",
                                       "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    secret_file = data_dir / "jwt-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret = secret_file.read_text().strip()
    claims = jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"])
    assert claims["sub"] == "3" and claims["sid"] == "phone"
    assert 55 <= claims["exp"] - claims["iat"] <= 60
    again = CliRunner().invoke(main, ["token", "3", "--data-dir", str(data_dir)])
    assert jwt.decode(again.stdout.strip(), secret, algorithms=["HS256"])["sub"] == "3"


def test_directory_import_and_export_round_trip_and_reject_a_bad_file(tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    runner = CliRunner()
    assert runner.invoke(main, ["migrate", "--database-url", url]).exit_code == 0
    file = tmp_path / "dir.json"
    file.write_text(json.dumps(DIRECTORY))
    imported = runner.invoke(main, ["directory", "import", str(file), "--database-url", url])
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(main, ["directory", "export", "--database-url", url])
    assert exported.exit_code == 0
    assert [u["id"] for u in json.loads(exported.output)["users"]] == [1, 2, 3, 4, 5]
    file.write_text(json.dumps({"users": [{"id": "nope"}]}))
    bad = runner.invoke(main, ["directory", "import", str(file), "--database-url", url])
    assert bad.exit_code == 1 and "users" in bad.output


# --- serve as a real process ---------------------------------------------------------------


async def _start(cwd: Path, *args: str) -> tuple[trio.Process, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_PORT": "0",
           "PRESENCE_SHUTDOWN_TIMEOUT": "4"}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "web.cli", "serve", *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    banner = b""
    with trio.fail_after(20):
        while b"\n" not in banner:
            chunk = await process.stdout.receive_some()
            if not chunk:
                pytest.fail("serve exited before listening")
            banner += chunk
    first = banner.decode().splitlines()[0]
    assert first.startswith("presence-actors listening on http://")
    return process, first.rsplit(" ", 1)[1]


async def _stop(process: trio.Process) -> int:
    process.send_signal(signal.SIGTERM)
    with trio.fail_after(20):
        return await process.wait()


@pytest.mark.slow
async def test_graceful_shutdown_persists_last_seen_and_a_restart_serves_it(tmp_path):
    """`serve` with no configuration (SQLite, dev secret, demo directory), SIGTERM, restart."""
    process, url = await _start(tmp_path)
    try:
        secret = (tmp_path / ".presence" / "jwt-secret").read_text().strip()
        headers = {"Authorization": f"Bearer {make_token(1, secret=secret)}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as ada:
            posted = (await ada.post("/api/presence/status", json={"status": "online"})).json()
            assert posted["status"] == "online"
        ws_url = url.replace("http", "ws", 1) + "/api/presence/subscribe"
        async with open_websocket_url(ws_url, extra_headers=[
                (b"authorization", headers["Authorization"].encode())]) as ws:
            await ws.get_message()
            assert await _stop(process) == 0
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == 1001
    finally:
        if process.returncode is None:
            process.kill()
    process, url = await _start(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers) as ada:
            after = (await ada.get("/api/presence/users/1")).json()
        assert after["status"] == "offline"  # nobody is connected to a fresh node
        assert after["last_seen"] >= posted["last_seen"]  # the socket's close moved it on
        assert after["last_seen"] is not None
    finally:
        assert await _stop(process) == 0


@pytest.mark.slow
async def test_the_hypercorn_cli_serves_create_app_with_the_documented_command(tmp_path):
    process, url = await hypercorn_cli(tmp_path)
    try:
        secret = (tmp_path / ".presence" / "jwt-secret").read_text().strip()
        headers = {"Authorization": f"Bearer {make_token(2, secret=secret)}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as grace:
            assert (await grace.get("/readyz")).status_code == 200
            users = (await grace.get("/api/presence/users")).json()
            assert 1 in [u["user_id"] for u in users]
        ws_url = url.replace("http", "ws", 1) + "/api/presence/subscribe"
        async with open_websocket_url(ws_url, extra_headers=[
                (b"authorization", headers["Authorization"].encode())]) as ws:
            await ws.get_message()
            # hypercorn's own shutdown cancels the handler after its graceful timeout;
            # the session still says goodbye with 1001 on the way out
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(20):
                await ws.get_message()
            assert closed.value.reason.code == 1001
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            assert await process.wait() == 0


def test_serve_with_an_unreachable_store_exits_1_with_the_reason_and_no_banner(tmp_path):
    result = CliRunner().invoke(main, [
        "serve", "--port", "0", "--data-dir", str(tmp_path),
        "--database-url", "postgresql://nobody@127.0.0.1:1/presence",
    ])
    assert result.exit_code == 1
    assert "cannot open postgresql://nobody@127.0.0.1:1/presence" in result.output
    assert "listening" not in result.output


def test_serve_with_an_algorithm_but_not_its_key_exits_1(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path),
                                       "--jwt-algorithms", "RS256"])
    assert result.exit_code == 1 and "RS256 needs PRESENCE_JWT_PUBLIC_KEY" in result.output


def test_regression_store_commands_say_what_they_did_and_nothing_they_did_not(tmp_path, caplog):
    """Every command logged the store's "0 statuses set offline", an export included."""
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path}/p.db"
    file = tmp_path / "dir.json"
    file.write_text(json.dumps(DIRECTORY))
    runner = CliRunner()
    migrated = runner.invoke(main, ["migrate", "--database-url", url])
    assert migrated.stdout.startswith("applied migrations [") and url in migrated.stdout
    imported = runner.invoke(main, ["directory", "import", str(file), "--database-url", url])
    assert imported.stdout.strip() == \
        f"imported 5 users, 1 partnerships, 1 circles, 2 conversations into {url}"
    caplog.clear()
    exported = runner.invoke(main, ["directory", "export", "--database-url", url])
    assert exported.exit_code == 0
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert said == [f"exported 5 users, 1 partnerships, 1 circles, 2 conversations from {url}"]
    again = runner.invoke(main, ["migrate", "--database-url", url])
    assert again.stdout.strip() == f"schema is up to date ({url})"
