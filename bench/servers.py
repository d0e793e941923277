"""The servers under test, each a subprocess pinned to the server core.

`Service` runs the real presence-actors service (`presence-actors serve`, or hypercorn's
trio worker on `web.app:create_app()` when the CLI is missing) configured only through
`PRESENCE_*` variables; `Reference` runs `bench.reference`. Both are stopped with SIGTERM
and, if that does not end them within a bound, SIGKILL.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from . import machine, tokens

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_command(*args: str) -> list[str]:
    """`presence-actors ARGS` through this interpreter (the package need not be installed)."""
    return [sys.executable, "-c", "import sys; from web.cli import main; sys.exit(main())", *args]


def has_cli() -> bool:
    return importlib.util.find_spec("web.cli") is not None


class Server:
    process: subprocess.Popen
    port: int
    host = "127.0.0.1"

    @property
    def ps(self) -> psutil.Process:
        """The serving process: hypercorn's CLI serves from a child, `serve` in-process."""
        main = psutil.Process(self.process.pid)
        children = main.children(recursive=True)
        return max(children, key=lambda p: p.memory_info().rss) if children else main

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


class Reference(Server):
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.reference", "--port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
            preexec_fn=machine.pinned_to(machine.SERVER_CORE),
        )
        line = _readline(self.process, 20)
        self.port = int(line)


class Service(Server):
    def __init__(self, database_url: str, log: Path, probe: Path | None = None,
                 **settings: object) -> None:
        """`probe`: load `bench.probe` into the server, writing its events to that file."""
        self.port = free_port()
        self.database_url = database_url
        self.env = service_env(database_url, port=self.port, **settings)
        if probe is not None:
            self.env["BENCH_PROBE"] = str(probe)
            self.env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench" / "probe_site"),
                                                      self.env["PYTHONPATH"]])
        command = cli_command("serve") if has_cli() else [
            sys.executable, "-m", "hypercorn", "--worker-class", "trio",
            "-c", "python:web.hypercorn_conf", "web.app:create_app()",
        ]
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=machine.pinned_to(machine.SERVER_CORE),
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"service exited with {code}; see {self.log.name}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.get("/healthz")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"service not healthy within {timeout:.0f} s; see {self.log.name}")

    def get(
        self, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def metrics(self) -> dict[str, float]:
        """The Prometheus text of /metrics as {sample name with labels: value}; {} if busy."""
        try:
            status, body = self.get("/metrics", timeout=30)
        except (OSError, http.client.HTTPException):
            return {}
        samples = {}
        if status == 200:
            for line in body.decode().splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    with contextlib.suppress(ValueError):
                        samples[name] = float(value)
        return samples

    def stop(self, timeout: float = 15.0) -> int | None:
        code = super().stop(timeout)
        self.log.close()
        return code


def service_env(database_url: str, port: int = 0, **settings: object) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PRESENCE_HOST": "127.0.0.1",
        "PRESENCE_PORT": str(port),
        "PRESENCE_DATABASE_URL": database_url,
        "PRESENCE_JWT_SECRET": tokens.SECRET,
        "PRESENCE_DEMO": "0",
        "PRESENCE_ACCESS_LOG": "0",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    })
    for name, value in settings.items():
        env["PRESENCE_" + name.upper()] = str(value)
    return env


def import_directory(database_url: str, path: Path, log: Path) -> None:
    """`presence-actors directory import FILE` (or `python -m storage import`) into the store."""
    command = (cli_command("directory", "import", str(path)) if has_cli()
               else [sys.executable, "-m", "storage", "import", database_url, str(path)])
    with open(log, "ab") as out:
        subprocess.run(
            command, cwd=ROOT, check=True, env=service_env(database_url), stdout=out,
            stderr=subprocess.STDOUT, timeout=300,
        )


def _readline(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    buffer = ""
    while time.monotonic() < deadline:
        chunk = process.stdout.readline()
        if chunk:
            buffer += chunk
            if buffer.endswith("\n"):
                return buffer.strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("server did not report its port")
