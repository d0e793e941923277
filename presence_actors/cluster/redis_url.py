"""`PRESENCE_REDIS_URL`: where the cluster's Redis is, which database, which key prefix.

    redis://[[user]:password@]host[:port][/db][?prefix=NAME]
    rediss://...                       (TLS)
    unix:///path/to/redis.sock[?db=N&prefix=NAME]

The database number and the prefix together name the cluster: every node with the same
URL is a node of the same cluster; a test or a second deployment on the same Redis picks
another prefix. The prefix defaults to `presence`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PREFIX = "presence"
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    url: str  # what coredis connects to (the prefix removed)
    prefix: str
    db: int

    def key(self, *parts: object) -> str:
        """A Redis key or channel name of this cluster: `prefix:part:part`."""
        return ":".join([self.prefix, *map(str, parts)])

    def redacted(self) -> str:
        """The URL without its password, for logs and banners."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:" if parts.username else ":"
        return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))


def parse_redis_url(url: str) -> RedisTarget:
    """Raises:
    ValueError: not a redis://, rediss:// or unix:// URL, a bad database number or prefix
        (the message never repeats the URL, which may hold a password).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("redis", "rediss", "unix"):
        shown = parts.scheme or "no scheme"
        raise ValueError(f"PRESENCE_REDIS_URL: expected redis://, rediss:// or unix://: {shown}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    if not _PREFIX.match(prefix):
        raise ValueError(f"PRESENCE_REDIS_URL: prefix must be 1-64 of A-Za-z0-9_.:- ({prefix!r})")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("PRESENCE_REDIS_URL: unix:// needs a socket path")
        db_text = query.get("db", "0")
    else:
        if not parts.hostname:
            raise ValueError("PRESENCE_REDIS_URL: no host")
        db_text = parts.path.lstrip("/") or "0"
        try:
            parts.port  # noqa: B018 (urlsplit checks the port only when asked)
        except ValueError:
            raise ValueError("PRESENCE_REDIS_URL: the port must be a number up to 65535") from None
    if not db_text.isdigit() or int(db_text) > 15_000:
        raise ValueError(f"PRESENCE_REDIS_URL: the database must be a number, got {db_text!r}")
    clean = urlunsplit(parts._replace(query=urlencode(query)))
    return RedisTarget(clean, prefix, int(db_text))
