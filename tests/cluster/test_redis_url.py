"""PRESENCE_REDIS_URL: database and prefix name the cluster; bad URLs are refused with a
message that never repeats the password."""

from __future__ import annotations

import pytest

from presence_actors.cluster import parse_redis_url


def test_database_and_prefix_come_from_the_url():
    target = parse_redis_url("redis://127.0.0.1:6379/3?prefix=prod-eu")
    assert (target.db, target.prefix) == (3, "prod-eu")
    assert target.url == "redis://127.0.0.1:6379/3"  # what coredis gets: no prefix
    assert target.key("node", "ab12") == "prod-eu:node:ab12"


def test_defaults_are_database_0_and_prefix_presence():
    target = parse_redis_url("redis://localhost")
    assert (target.db, target.prefix) == (0, "presence")


def test_unix_sockets_and_tls():
    assert parse_redis_url("unix:///run/redis.sock?db=2&prefix=x").db == 2
    assert parse_redis_url("rediss://h:6380/1").url == "rediss://h:6380/1"


def test_the_password_is_redacted_for_logs():
    target = parse_redis_url("redis://:s3cret@h:6379/0")
    assert "s3cret" not in target.redacted() and "***" in target.redacted()


@pytest.mark.parametrize(
    "url",
    [
        "http://h:6379",
        "h:6379",
        "redis://:s3cret@h:6379/zero",
        "redis://:s3cret@h:99999/0",
        "redis://:s3cret@h/0?prefix=has space",
        "redis://:s3cret@/0",
        "unix://?db=1",
    ],
)
def test_bad_urls_are_refused_without_echoing_the_password(url):
    with pytest.raises(ValueError) as refused:
        parse_redis_url(url)
    assert "PRESENCE_REDIS_URL" in str(refused.value)
    assert "s3cret" not in str(refused.value)
