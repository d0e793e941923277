"""`./dev`: says what it does while it sets up (issue 8 item 8).

Regression (new-user audit stumble 1): the first `./dev serve` showed nothing for ~15 s
while pip ran quietly. Run here against stand-ins for python3 and pip (recording their
calls), so the test needs no network and takes no time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON3 = """#!/usr/bin/env bash
# python3 -m venv .venv: make a venv whose python and presence-actors only record calls
echo "python3 $*" >> calls.log
mkdir -p .venv/bin
printf '#!/usr/bin/env bash\\necho "pip $*" >> calls.log\\n' > .venv/bin/python
printf '#!/usr/bin/env bash\\necho "presence-actors $*" >> calls.log\\n' > .venv/bin/presence-actors
chmod +x .venv/bin/python .venv/bin/presence-actors
"""


def _checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shutil.copy(ROOT / "dev", tmp_path / "dev")
    (tmp_path / "pyproject.toml").write_text("")
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    (bin_dir / "python3").chmod(0o755)
    return tmp_path, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _dev(checkout: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./dev", *args], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=30, check=False)


def test_regression_the_first_serve_says_what_it_is_installing_before_it_does(tmp_path):
    checkout, env = _checkout(tmp_path)
    first = _dev(checkout, env, "serve", "--port", "0")
    assert first.returncode == 0, first.stderr
    said = first.stderr.splitlines()
    assert said[0].startswith("dev: first run: creating .venv")
    assert any("installing" in line and "pip install -e" in line for line in said)
    assert said[-1].startswith("dev: ready in ")
    calls = (checkout / "calls.log").read_text().splitlines()
    assert calls[0] == "python3 -m venv .venv" and calls[-1] == "presence-actors serve --port 0"
    again = _dev(checkout, env, "serve")
    assert again.returncode == 0 and again.stderr == ""  # set up already: silent


def test_help_exits_0_and_says_what_the_tests_need(tmp_path):
    checkout, env = _checkout(tmp_path)
    helped = _dev(checkout, env, "--help")
    assert helped.returncode == 0 and "PostgreSQL" in helped.stdout and "Redis" in helped.stdout
    assert _dev(checkout, env).returncode == 2
