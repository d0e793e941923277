"""`serve --workers N` with real processes: refusal without Redis, N workers on one port,
SIGTERM stopping all of them with exit 0, a worker that dies started again, and workers
that stop by themselves when the parent is SIGKILLed. (The workers do not share presence
yet: that is phase 2.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

CLI = [sys.executable, "-m", "web.cli", "serve"]
BOUND = 60.0  # seconds any of these processes may take to start or stop on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=BOUND,
        env={**os.environ, **(env or {})},
    )


def test_more_than_one_worker_without_redis_is_refused_and_binds_nothing(tmp_path):
    port = free_port()
    env = {"PRESENCE_REDIS_URL": ""}
    result = run_cli("--workers", "2", "--port", str(port), env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "PRESENCE_REDIS_URL" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "presence.db").exists()  # nothing was started
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # and the port is still free


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "at least 1"),
        (["--workers", "2", "--database-url", "memory://"], "memory://"),
        (["--workers", "2", "--redis-url", "http://127.0.0.1"], "redis://"),
    ],
)
def test_worker_settings_that_cannot_work_are_refused(tmp_path, args, message, redis_target):
    env = {"PRESENCE_REDIS_URL": redis_target.url}
    result = run_cli(*args, "--port", str(free_port()), env=env, tmp_path=tmp_path)
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_refused_before_any_worker_starts(tmp_path, redis_target):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PRESENCE_REDIS_URL": f"{redis_target.url}?prefix={redis_target.prefix}"}
        result = run_cli("--workers", "2", "--port", str(port), env=env, tmp_path=tmp_path)
    assert result.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_worker_whose_store_cannot_open_fails_the_start_in_one_line(tmp_path, redis_target):
    """Workers start the way `serve` does (web/startup.py): a store that cannot be opened
    is one line naming the setting, and the parent stops the others and exits 1."""
    env = {"PRESENCE_REDIS_URL": f"{redis_target.url}?prefix={redis_target.prefix}"}
    result = run_cli("--workers", "2", "--port", str(free_port()), "--database-url",
                     "postgresql://postgres@127.0.0.1:1/none", "--startup-timeout", "5",
                     env=env, tmp_path=tmp_path)
    assert result.returncode == 1
    assert "Error: worker" in result.stderr and "PRESENCE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


class Served:
    """`serve --workers 2` running in the background."""

    def __init__(self, tmp_path, redis_target) -> None:
        self.port = free_port()
        url = f"{redis_target.url}?prefix={redis_target.prefix}"
        env = {**os.environ, "PRESENCE_REDIS_URL": url, "PRESENCE_WORKERS": "2"}
        self.process = subprocess.Popen(
            [*CLI, "--data-dir", str(tmp_path / "data"), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = self.process.stdout.readline()  # the banner, once every worker listens
        assert f"listening on http://127.0.0.1:{self.port} with 2 workers" in line, line

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=BOUND)


@pytest.mark.slow
def test_two_workers_serve_one_port_and_sigterm_stops_both_with_exit_0(tmp_path, redis_target):
    served = Served(tmp_path, redis_target)
    try:
        workers = served.workers()
        assert len(workers) == 2
        assert all(served.get("/healthz").status_code == 200 for _ in range(20))
        assert served.get("/readyz").status_code == 200
    finally:
        code = served.stop()
    assert code == 0
    psutil.wait_procs(workers, timeout=BOUND)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    stderr = served.process.stderr.read()
    assert stderr.count("closing sockets, flushing, stopping") == 2


@pytest.mark.slow
def test_a_worker_that_dies_is_started_again(tmp_path, redis_target):
    served = Served(tmp_path, redis_target)
    try:
        first = served.workers()[0]
        first.kill()
        first.wait(timeout=BOUND)
        deadline = time.monotonic() + BOUND
        while len(served.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # a process tree has no event to wait on
        assert len(served.workers()) == 2 and first.pid not in {w.pid for w in served.workers()}
        assert all(served.get("/healthz").status_code == 200 for _ in range(10))
    finally:
        assert served.stop() == 0


@pytest.mark.slow
def test_workers_stop_by_themselves_when_the_parent_is_killed(tmp_path, redis_target):
    served = Served(tmp_path, redis_target)
    workers = served.workers()
    served.process.kill()
    served.process.wait(timeout=BOUND)
    _, alive = psutil.wait_procs(workers, timeout=BOUND)
    assert not alive
