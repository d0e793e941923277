from __future__ import annotations

from pathlib import Path

import pytest
import trio

from storage import open_store, parse_url


@pytest.mark.parametrize(
    ("url", "kind", "detail"),
    [
        ("postgresql://u:p@db:5432/presence", "postgresql", "postgresql://u:p@db:5432/presence"),
        ("postgres://db/presence", "postgresql", "postgresql://db/presence"),
        ("sqlite:///relative/presence.db", "sqlite", Path("relative/presence.db")),
        ("sqlite:///./.presence/presence.db", "sqlite", Path(".presence/presence.db")),
        ("sqlite:////abs/presence.db", "sqlite", Path("/abs/presence.db")),
        ("memory://", "memory", ""),
        ("memory://shared-1", "memory", "shared-1"),
    ],
)
def test_accepted_urls(url, kind, detail):
    parsed = parse_url(url)
    assert parsed.kind == kind
    assert {"postgresql": parsed.dsn, "sqlite": parsed.path, "memory": parsed.name}[kind] == detail


@pytest.mark.parametrize(
    "url",
    [
        "",
        "presence.db",
        "mysql://x/y",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite:///:memory:",
        "memory://a/b",
    ],
)
def test_rejected_urls_say_what_would_work(url):
    with pytest.raises(ValueError, match=r"bad database URL.*use postgresql://"):
        parse_url(url)


def test_passwords_stay_out_of_messages():
    assert parse_url("postgresql://u:secret@db/p").redacted() == "postgresql://u:***@db/p"
    with pytest.raises(ValueError) as caught:
        parse_url("mysql://u:secret@db/p")
    assert "secret" not in str(caught.value)


def test_open_store_rejects_a_bad_url_before_opening_anything():
    with pytest.raises(ValueError, match="unknown scheme 'redis'"):
        open_store("redis://localhost")


async def test_relative_sqlite_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with trio.fail_after(10):
        async with open_store("sqlite:///data/presence.db") as store:
            assert store.ready()
    assert (tmp_path / "data" / "presence.db").is_file()
