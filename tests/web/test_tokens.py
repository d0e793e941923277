"""`presence-actors token` and the banner's token hint (issue 8 item 7).

Regressions (new-user audit stumbles 3 and 6): with `--jwt-secret` the banner printed a
command signing with the dev secret (401 "Signature verification failed"), on an RS256
server an HS256 one (401 "Token algorithm not accepted"); `token` minted only HS256, for
users not in the directory without a word, and with any `--sid`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest
import trio
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from web.cli import main
from web.startup import banner
from web.tokens import COMMAND_LINE, ENVIRONMENT

from .conftest import DIRECTORY, SECRET, serving, test_settings

ROOT = Path(__file__).resolve().parents[2]
BIN = str(Path(sys.executable).parent)  # where `presence-actors` is installed


def _shell(line: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a banner line exactly as printed, in bash, with the CLI on PATH."""
    environment = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})}
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, (line, done.stderr)
    return done.stdout


def _line(text: str, label: str) -> str:
    [line] = [x for x in text.splitlines() if x.strip().startswith(label)]
    return line.split(label, 1)[1].strip()


async def _serve_process(cwd: Path, args: list[str], env: dict[str, str]) -> tuple:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PRESENCE_PORT": "0",
                   "PRESENCE_SHUTDOWN_TIMEOUT": "2", **env}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "web.cli", "serve", *args], cwd=cwd, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    printed = b""
    with trio.fail_after(30):
        while b"stop:" not in printed:
            chunk = await process.stdout.receive_some()
            assert chunk, printed
            printed += chunk
    return process, printed.decode()


@pytest.mark.slow
@pytest.mark.parametrize("args, env", [
    (["--jwt-secret", SECRET, "--jwt-audience", "presence"], {}),
    ([], {"PRESENCE_JWT_SECRET": SECRET, "PRESENCE_JWT_ISSUER": "halext"}),
    (["--data-dir", "elsewhere", "--jwt-algorithms", "HS512,HS256"], {}),
], ids=["secret on the command line", "secret in the environment", "dev secret, data dir"])
async def test_regression_the_banners_curl_line_works_as_printed(tmp_path, args, env):
    process, printed = await _serve_process(tmp_path, args, env)
    try:
        try_line = _line(printed, "try:")
        output = await trio.to_thread.run_sync(_shell, try_line, tmp_path, env)
        assert [p["user_id"] for p in json.loads(output)] == [1, 2, 3, 4, 5]  # demo: all but Edsger
    finally:
        process.terminate()
        with trio.fail_after(20):
            await process.wait()


def _rsa_key(tmp_path: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "private.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


async def test_an_rs256_server_says_why_no_command_here_mints_and_token_private_key_does(
        tmp_path):
    private, public = _rsa_key(tmp_path)
    settings = test_settings(jwt_secret=None, jwt_algorithms="RS256", jwt_public_key=public)
    text = banner("http://127.0.0.1:1", settings, {"jwt_public_key": ENVIRONMENT})
    assert "accepts only RS256 tokens" in _line(text, "token:")
    assert "--private-key" in text and "$TOKEN" in _line(text, "try:")
    minted = CliRunner().invoke(main, ["token", "2", "--private-key", str(private),
                                       "--data-dir", str(tmp_path)])
    assert minted.exit_code == 0, minted.output
    token = minted.stdout.strip()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    async with serving(settings) as server, httpx.AsyncClient(base_url=server.url,
                                 headers={"Authorization": f"Bearer {token}"}) as grace:
        assert (await grace.get("/api/presence/users/2")).status_code == 200


def test_token_private_key_follows_the_key_family_and_configured_algorithms(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    private = tmp_path / "ec.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    minted = CliRunner().invoke(main, ["token", "1", "--private-key", str(private),
                                       "--data-dir", str(tmp_path), "--jwt-audience", "p"])
    token = minted.stdout.strip()
    assert jwt.get_unverified_header(token)["alg"] == "ES384"
    claims = jwt.decode(token, key.public_key(), algorithms=["ES384"], audience="p")
    assert claims["sub"] == "1"
    bad = CliRunner().invoke(main, ["token", "1", "--private-key", str(tmp_path / "missing")])
    assert bad.exit_code == 1 and "--private-key: cannot read" in bad.output


def test_token_warns_about_a_user_not_in_the_directory_and_refuses_a_bad_sid(tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps(DIRECTORY))
    runner = CliRunner()
    assert runner.invoke(main, ["directory", "import", str(directory),
                                "--database-url", url]).exit_code == 0
    known = runner.invoke(main, ["token", "1", "--database-url", url, "--data-dir", str(tmp_path)])
    assert known.exit_code == 0 and known.stderr == ""
    unknown = runner.invoke(main, ["token", "7", "--database-url", url,
                                   "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 0 and unknown.stdout.count(".") == 2  # still a token
    assert "user 7 is not in the directory" in unknown.stderr
    assert "401 Unknown user" in unknown.stderr
    bad_sid = runner.invoke(main, ["token", "1", "--sid", "bad sid", "--data-dir", str(tmp_path)])
    assert bad_sid.exit_code == 2 and "--sid" in bad_sid.output


def test_the_hint_repeats_only_what_the_command_line_gave():
    settings = test_settings(jwt_secret="from-the-environment-" * 3, jwt_audience="aud")
    hint = banner("http://h:1", settings, {"jwt_secret": ENVIRONMENT})
    assert "from-the-environment" not in hint  # never echo a secret the shell did not show
    assert "reads PRESENCE_JWT_SECRET from the environment" in hint
    assert "--jwt-audience aud" in hint
    typed = banner("http://h:1", settings, {"jwt_secret": COMMAND_LINE})
    assert "--jwt-secret from-the-environment-" in typed
