"""`PRESENCE_ACCESS_LOG`: one line per request (configuration.md), never two.

Regression (new-user audit, false claim 6): a client that closes as soon as it has read
the response (curl does) got two lines, `"GET /healthz 1.1" - -` and then the real one.
"""

from __future__ import annotations

import logging

import trio
import trio.testing

from .conftest import serving, test_settings

REQUESTS = 40


async def _get_then_close(port: int, path: str) -> None:
    """What curl does: send, read until the whole response is in, close at once."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(b"}"):
            chunk = await stream.receive_some()
            assert chunk, received
            received += chunk


async def test_regression_each_request_is_logged_once_when_the_client_closes_at_once(caplog):
    caplog.set_level(logging.INFO, logger="hypercorn.access")
    async with serving(test_settings(access_log=True)) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with trio.fail_after(30):
            for _ in range(REQUESTS):
                await _get_then_close(port, "/readyz")
        await trio.testing.wait_all_tasks_blocked()  # the last line may still be on its way
    lines = _lines(caplog, "/readyz")
    assert len(lines) == REQUESTS, lines
    assert all('" 200 ' in line for line in lines), lines


def _lines(caplog, path: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "hypercorn.access" and f"GET {path} " in r.getMessage()]

