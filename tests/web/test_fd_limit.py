"""`presence-actors serve` under a small file-descriptor limit (issue 8.17).

The audit's server, at 1024 fds, served 1,009 sockets and then let every new connection
— health checks included — hang, logging an EMFILE traceback ten times a second. Now the
node refuses sockets beyond its capacity (503 before the upgrade) with descriptors to
spare, and when they run out all the same, says so once per interval.
"""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest
import trio

from .conftest import make_token, serve_process
from .raw_client import RawClient


async def _stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    with trio.fail_after(30):
        await process.wait()


async def _upgrade(url: str, user: int, device: str) -> tuple[RawClient, int]:
    client = await RawClient.connect(
        url, f"/api/presence/subscribe?token={make_token(user)}&device_id={device}")
    with trio.fail_after(10):
        head = await client.upgraded()
    return client, int(head.split()[1])


@pytest.mark.slow
async def test_sockets_beyond_the_fd_based_capacity_are_refused_and_health_checks_answer(
        tmp_path):
    # capacity 256 - 64 = 192; six demo users may hold all of it
    process, url = await serve_process(tmp_path, fds=256, demo="1", max_sockets_per_user="1000",
                                         max_devices_per_user="1000")
    clients = []
    try:
        statuses: dict[int, int] = {}
        for n in range(230):
            client, status = await _upgrade(url, 1 + n % 6, f"d{n}")
            clients.append(client)
            statuses[status] = statuses.get(status, 0) + 1
        assert statuses == {101: 192, 503: 230 - 192}
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            assert (await http.get("/healthz")).status_code == 200
            metrics = (await http.get("/metrics")).text
        assert "presence_sockets_capacity 192.0" in metrics
    finally:
        for client in clients:
            await client.aclose()
        await _stop(process)


@pytest.mark.slow
async def test_running_out_of_fds_is_logged_once_per_interval_without_a_traceback(tmp_path):
    process, url = await serve_process(tmp_path, fds=128, stderr=subprocess.PIPE, demo="1",
                                        max_sockets="1000")
    log = bytearray()

    async def read_log() -> None:
        while chunk := await process.stderr.receive_some():
            log.extend(chunk)

    streams = []
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_log)
            host, port = url.removeprefix("http://").split(":")
            for _ in range(200):  # more connections than the server has descriptors
                streams.append(await trio.open_tcp_stream(host, int(port)))
            with trio.move_on_after(2):  # trio retries accept every 100 ms: ~20 tries
                await trio.sleep_forever()
            for stream in streams:
                await stream.aclose()
            streams.clear()
            with trio.fail_after(10):  # it recovers as soon as descriptors are free
                async with httpx.AsyncClient(base_url=url, timeout=5) as http:
                    assert (await http.get("/healthz")).status_code == 200
            await _stop(process)
    finally:
        for stream in streams:
            await stream.aclose()
        if process.returncode is None:
            await _stop(process)
    text = log.decode(errors="replace")
    assert text.count("accept returned EMFILE") == 1, text[-2000:]
    assert "Traceback" not in text
