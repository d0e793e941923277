"""Parsing PRESENCE_DATABASE_URL into the backend it names.

`sqlite:///` follows SQLAlchemy's convention so that `f"sqlite:///{data_dir}/presence.db"`
does the right thing for both kinds of `data_dir`: `sqlite:///rel/x.db` is relative to the
working directory, `sqlite:////abs/x.db` is absolute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_MEMORY_NAME = re.compile(r"^[A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class StoreURL:
    """A validated database URL: `kind` is "postgresql", "sqlite" or "memory"."""

    kind: str
    dsn: str = ""  # postgresql: what asyncpg connects to
    path: Path | None = None  # sqlite: the database file
    name: str = ""  # memory: "" is private to one store, a name is shared in-process

    def redacted(self) -> str:
        """The URL without its password, fit for logs and error messages."""
        if self.kind == "postgresql":
            parts = urlsplit(self.dsn)
            if parts.password:
                netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
                return urlunsplit(parts._replace(netloc=netloc))
            return self.dsn
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return f"memory://{self.name}"


def parse_url(url: str) -> StoreURL:
    """Validate a store URL; a ValueError says what is wrong and what would be accepted."""
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(_bad(url, "not a URL"))
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return StoreURL("postgresql", dsn="postgresql://" + rest)
    if scheme == "sqlite":
        return StoreURL("sqlite", path=_sqlite_path(url, rest))
    if scheme == "memory":
        if not _MEMORY_NAME.match(rest):
            raise ValueError(_bad(url, "a memory store name is letters, digits, '.', '_', '-'"))
        return StoreURL("memory", name=rest)
    raise ValueError(_bad(url, f"unknown scheme {scheme!r}"))


def _sqlite_path(url: str, rest: str) -> Path:
    if not rest.startswith("/") or len(rest) < 2:
        raise ValueError(_bad(url, "expected sqlite:///relative/path or sqlite:////absolute/path"))
    path = rest[1:]  # the host part is empty; what follows the third slash is the path
    if "?" in path or "#" in path or path == ":memory:":
        raise ValueError(_bad(url, "query strings and :memory: are not supported"))
    return Path(path)


def _bad(url: object, why: str) -> str:
    shown = url if isinstance(url, str) and "@" not in url else "<redacted>"
    return (
        f"bad database URL {shown!r}: {why}; use postgresql://user@host/db, "
        "sqlite:///path/to/file.db or memory://"
    )
