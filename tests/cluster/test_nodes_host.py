"""A served node on Redis (web/host.py): it joins when `redis_url` is set, `/metrics` shows
its node and limiter, `/readyz` names Redis while it is down (and stays 200: the node still
answers), and the joined start-up marks offline only what no live node holds, or nothing
when the node could not join. Real hypercorn, real Redis (through a cuttable proxy), real
SQLite; in one process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import trio

from storage import open_store
from tests.storage.helpers import FAST, directory, record, rows_in_database
from tests.web.conftest import serving, test_settings
from web.host import host_of

from .conftest import through
from .proxy import CuttableProxy

ROOT = Path(__file__).resolve().parents[2]
BOUND = 20.0  # seconds any of these waits may take on a busy machine


async def poll(client: httpx.AsyncClient, path: str, wanted, timeout: float = BOUND):
    """GET `path` until `wanted(response)`; the last response (fails on the deadline)."""
    with trio.fail_after(timeout):
        while True:
            response = await client.get(path)
            if wanted(response):
                return response
            await trio.sleep(0.05)


def bus_up(response: httpx.Response) -> bool:
    return "presence_cluster_bus_up 1.0" in response.text


async def test_a_node_joins_exports_its_statistics_and_readyz_names_redis_while_cut(
        redis_target):
    proxy = CuttableProxy(int(redis_target.url.rsplit(":", 1)[1].split("/")[0]))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(proxy.run)
        settings = test_settings(redis_url=_url(through(redis_target, port)), node_ttl=3.0)
        async with serving(settings) as node, node.client(1) as ada:
            metrics = await poll(ada, "/metrics", bus_up)
            assert "presence_cluster_limits_checks" in metrics.text
            assert "presence_cluster_peers_up 0.0" in metrics.text
            ready = await ada.get("/readyz")
            assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

            proxy.cut()
            degraded = await poll(ada, "/readyz", lambda r: r.json().get("down"))
            assert (degraded.status_code, degraded.json()) == (
                200, {"status": "degraded", "down": ["redis"]})
            assert (await ada.get("/api/presence/users/2")).status_code == 200  # still answers
            posted = await ada.post("/api/presence/status", json={"status": "online"})
            assert posted.status_code == 200  # the limit falls back to the node's own rule
            assert "presence_cluster_bus_up 0.0" in (await ada.get("/metrics")).text

            await proxy.restore()
            await poll(ada, "/readyz", lambda r: r.json() == {"status": "ready"})
            assert host_of(node.app).cluster.is_connected
        nursery.cancel_scope.cancel()


async def test_a_node_that_stops_says_goodbye_and_its_peer_drops_it_at_once(redis_target):
    """Stopping leaves the cluster (within CLUSTER_LEAVE): the peer does not wait out
    node_ttl (60 s here) to stop counting it."""
    settings = test_settings(redis_url=_url(redis_target), node_ttl=60.0)
    async with serving(settings) as first, first.client(1) as ada:
        async with serving(settings):
            await poll(ada, "/metrics", lambda r: "presence_cluster_peers_up 1.0" in r.text)
        with trio.fail_after(5):  # far below node_ttl
            await poll(ada, "/metrics", lambda r: "presence_cluster_peers_up 0.0" in r.text)


async def _left_online(url: str) -> None:
    """Users 1 and 2 online in the store, as a run that ended without a clean stop left them."""
    async with open_store(url, options=FAST) as store:
        await store.import_directory(directory(5))
        store.persist(record(1, "online", time.time() - 5))
        store.persist(record(2, "away", time.time() - 9))


async def test_a_joined_node_alone_marks_what_an_earlier_run_left(redis_target, tmp_path):
    url = f"sqlite:///{tmp_path}/presence.db"
    await _left_online(url)
    settings = test_settings(database_url=url, redis_url=_url(redis_target), node_ttl=1.5)
    async with serving(settings) as node:
        with trio.fail_after(BOUND):
            assert await host_of(node.app).mark_offline() == 2
    rows = await rows_in_database(url)
    assert rows[1][0] == "offline" and rows[2][0] == "offline"


async def test_a_node_that_cannot_join_marks_nothing_offline(tmp_path, caplog):
    """Redis unreachable: the node starts and serves, but cannot know which users other
    nodes hold, so it leaves every stored status as it is (and says so)."""
    url = f"sqlite:///{tmp_path}/presence.db"
    await _left_online(url)
    settings = test_settings(database_url=url, redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
                             node_ttl=1.5)
    async with serving(settings) as node, node.client(1) as ada:
        with trio.fail_after(BOUND):
            assert await host_of(node.app).mark_offline() == 0
        assert (await ada.get("/readyz")).json() == {"status": "degraded", "down": ["redis"]}
    rows = await rows_in_database(url)
    assert rows[1][0] == "online" and rows[2][0] == "away"
    assert "has not joined the cluster" in caplog.text


def test_a_single_node_never_imports_the_cluster_layer():
    """No Redis configured: the node starts and serves without importing coredis (0.76 s
    and 28 MB of RSS measured on this machine) or the cluster's Redis parts. (The pure
    replicas are imported: the actors' state is made of them.)"""
    script = """
import sys, trio
from presence_actors import MemoryStore
from web.app import create_app
from web.config import Settings
from web.host import host_of

async def main():
    app = create_app(Settings(jwt_secret="x" * 32), store=MemoryStore(), freeze_heap=False)
    async with trio.open_nursery() as nursery:
        await host_of(app).start(nursery)
        await host_of(app).stop()
    redis = ("coredis", "presence_actors.cluster.redis_bus", "presence_actors.cluster.limits")
    print(sorted(m for m in sys.modules if m.startswith(redis)))

trio.run(main)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _url(target) -> str:
    return f"{target.url}?prefix={target.prefix}"


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
