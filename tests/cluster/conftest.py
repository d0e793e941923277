"""Redis for the cluster tests: the shared server on 127.0.0.1:6379 ($PRESENCE_TEST_REDIS
overrides), a key prefix of its own per test, its keys deleted afterwards. When Redis is
unreachable these tests skip, or FAIL under CI=true."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
import trio

from presence_actors.cluster.redis_url import RedisTarget, parse_redis_url

REDIS_URL = os.environ.get("PRESENCE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_reachable() -> bool:
    target = parse_redis_url(REDIS_URL)
    host, port = target.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_target() -> RedisTarget:
    """A cluster of its own on the shared Redis: a fresh prefix, cleaned up after."""
    if not redis_reachable():
        message = f"Redis ({REDIS_URL}) is unreachable"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    target = parse_redis_url(f"{REDIS_URL}?prefix=test-{uuid.uuid4().hex[:12]}")
    yield target
    trio.run(delete_keys, target)


async def delete_keys(target: RedisTarget) -> None:
    import coredis

    async with coredis.Redis.from_url(target.url) as client:
        keys = [key async for key in client.scan_iter(match=f"{target.prefix}:*")]
        if keys:
            await client.delete(keys)


def redis_port(target: RedisTarget) -> int:
    return int(target.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def through(target: RedisTarget, port: int) -> RedisTarget:
    """The same cluster (database, prefix), reached through a proxy listening on `port`."""
    direct = f":{redis_port(target)}/"
    return parse_redis_url(target.url.replace(direct, f":{port}/") + f"?prefix={target.prefix}")
