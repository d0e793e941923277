"""`serve` start-up failures: one line naming the setting, exit 1, no traceback, no change.

Regressions (issue 8 items 4-5; new-user audit stumbles 2 and 4): a port in use gave 78
lines of ExceptionGroup after the store had marked a live instance's statuses offline; a
bad PEM, a missing key file and `RS256,ES256` gave tracebacks; a bad or unreachable
database gave a traceback and a false "Running on http://..." line.
"""

from __future__ import annotations

import socket
from contextlib import closing

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from web.cli import main


def _serve(tmp_path, *args: str, env: dict | None = None):
    database = tmp_path / "fresh.db"
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
                                       "--database-url", f"sqlite:///{database}", *args],
                                env=env)
    return result, database


def _one_line_error(result, caplog, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Traceback" not in result.output and not any(r.exc_info for r in caplog.records)
    assert "Running on" not in logged and "listening" not in result.output


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_regression_a_port_in_use_is_one_line_and_opens_no_store(tmp_path, caplog):
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result, database = _serve(tmp_path, "--port", str(port))
    _one_line_error(result, caplog, f"PRESENCE_PORT: 127.0.0.1:{port} is already in use")
    assert not database.exists()  # the store was never opened: nothing marked offline


@pytest.mark.parametrize("args, fragment", [
    (["--jwt-algorithms", "RS256", "--jwt-public-key", "not a pem"],
     "PRESENCE_JWT_PUBLIC_KEY: no PEM public key found"),
    (["--jwt-algorithms", "RS256", "--jwt-public-key-file", "/nonexistent/key.pem"],
     "PRESENCE_JWT_PUBLIC_KEY_FILE: cannot read /nonexistent/key.pem"),
    (["--jwt-algorithms", "RS256,ES256", "--jwt-public-key", _rsa_pem()],
     "no key for ES256 (it holds: RSA 2048-bit)"),
    (["--host", "203.0.113.7"], "PRESENCE_HOST: cannot listen on 203.0.113.7:0"),
    (["--port", "70000"], "PRESENCE_PORT: 70000 is not a port"),
])
def test_regression_a_bad_key_or_address_is_one_line_naming_the_setting(
        tmp_path, caplog, args, fragment):
    result, database = _serve(tmp_path, *args)
    _one_line_error(result, caplog, fragment)
    assert not database.exists()


def test_a_bad_database_url_is_one_line_and_no_running_on(tmp_path, caplog):
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(tmp_path),
                                       "--database-url", "mysql://db/presence"])
    _one_line_error(result, caplog, "PRESENCE_DATABASE_URL: bad database URL 'mysql://")


def test_a_database_that_never_answers_stops_start_up_after_the_startup_timeout(
        tmp_path, caplog):
    with closing(socket.socket()) as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        result = CliRunner().invoke(main, [
            "serve", "--port", "0", "--data-dir", str(tmp_path), "--startup-timeout", "1",
            "--database-url", f"postgresql://nobody@127.0.0.1:{port}/presence"])
    _one_line_error(result, caplog, "PRESENCE_DATABASE_URL: no answer within 1 s "
                                    "(PRESENCE_STARTUP_TIMEOUT)")


def test_an_unusable_data_dir_is_one_line(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(blocker)])
    _one_line_error(result, caplog, f"PRESENCE_DATA_DIR: cannot use {blocker}")

