"""`python -m presence_client watch` against a real server, as a user would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import trio

from tests.web.conftest import make_token

from .live import live_server, network_client


class Lines:
    """The lines a process writes, read as they come."""

    def __init__(self, stream) -> None:
        self.stream, self.buffer, self.seen = stream, b"", []

    async def until(self, predicate, timeout: float = 15.0) -> str:
        with trio.move_on_after(timeout):
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    self.seen.append(line.decode())
                    if predicate(self.seen[-1]):
                        return self.seen[-1]
                chunk = await self.stream.receive_some(4096)
                assert chunk, f"the watcher exited; it printed {self.seen}"
                self.buffer += chunk
        raise AssertionError(f"no such line in {timeout} s; the watcher printed {self.seen}")


def watch(url: str, token: str) -> list[str]:
    return [sys.executable, "-m", "presence_client", "watch", "--url", url, "--token", token]


async def test_watch_prints_changes_as_they_arrive_and_stops_on_ctrl_c():
    async with live_server() as server:
        process = await trio.lowlevel.open_process(
            watch(server.url, make_token(2)), stdout=subprocess.PIPE, env={**os.environ})
        try:
            out = Lines(process.stdout)
            await out.until(lambda line: line.startswith("in sync: 3 visible users"))
            async with network_client(server, 1):
                await out.until(lambda line: line.startswith("user 1: online (last seen 20"))
            await out.until(lambda line: line.startswith("user 1: offline"))
            process.send_signal(signal.SIGINT)
            with trio.fail_after(10):
                assert await process.wait() == 0
        finally:
            process.kill()
            await process.wait()
        assert out.seen[0] == "connected"


async def test_watch_with_an_expired_token_says_so_and_exits_1():
    async with live_server() as server:
        result = await trio.run_process(watch(server.url, make_token(2, ttl=-60)),
                                        capture_stdout=True, check=False)
        assert result.returncode == 1
        assert result.stdout.decode().splitlines()[-1].startswith("session expired")
