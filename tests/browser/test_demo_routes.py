"""What web/demo_page.py serves in which configuration, over a real server (no browser).

The token endpoint lets anyone sign in as anyone, so the tests that matter most here are the
404s: with the demo off, with `--demo-page` alone, with a configured secret or public key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from presence_actors import MemoryStore
from storage import open_store
from tests.web.conftest import SECRET, serving, test_settings
from web.config import Settings
from web.demo import DEMO_DIRECTORY, directory_data, import_demo
from web.demo_page import minting_enabled

from .conftest import demo_settings, demo_store

DEMO_ONLY = [("POST", "/demo/token"), ("GET", "/demo/users")]
PAGE = [("GET", "/"), ("GET", "/static/demo.js"), ("GET", "/static/demo.css")]


@asynccontextmanager
async def client_of(settings: Settings, store=None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a real server running with `settings`."""
    async with serving(settings, store=store) as server, \
            httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def _status(client: httpx.AsyncClient, method: str, path: str) -> int:
    response = await client.request(method, path, json={"user_id": 1})
    return response.status_code


async def test_client_module_is_served_with_its_type_and_revalidated_by_etag() -> None:
    async with client_of(test_settings()) as client:  # production-like: demo off, configured key
        first = await client.get("/static/presence.js")
        again = await client.get("/static/presence.js",
                                 headers={"If-None-Match": first.headers["ETag"]})
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert first.headers["Cache-Control"] == "no-cache"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert b"export class PresenceManager" in first.content
    assert (again.status_code, again.content) == (304, b"")


async def test_production_configuration_has_no_page_and_no_token_endpoint() -> None:
    async with client_of(test_settings()) as client:
        statuses = [await _status(client, m, p) for m, p in DEMO_ONLY + PAGE]
        bodies = [(await client.get(p)).json() for p in ("/", "/static/index.html")]
    assert statuses == [404] * len(statuses)
    assert bodies == [{"detail": "Not Found"}] * 2


async def test_demo_page_flag_serves_the_page_but_mints_nothing(tmp_path) -> None:
    settings = demo_settings(tmp_path, demo=False, demo_page=True)  # even with the dev secret
    async with client_of(settings, store=demo_store()) as client:
        page = await client.get("/")
        statuses = [await _status(client, m, p) for m, p in DEMO_ONLY]
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script type="module" src="/static/demo.js">' in page.text
    assert statuses == [404, 404]


async def test_demo_with_a_configured_secret_mints_nothing() -> None:
    settings = test_settings(demo=True)  # PRESENCE_JWT_SECRET set: a real deployment
    async with client_of(settings, store=demo_store()) as client:
        page = await client.get("/")
        statuses = [await _status(client, m, p) for m, p in DEMO_ONLY]
    assert page.status_code == 200  # the page asks for a token instead
    assert statuses == [404, 404]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, True),
        ({"demo": False}, False),
        ({"jwt_secret": SECRET}, False),
        ({"jwt_public_key": "-----BEGIN PUBLIC KEY-----"}, False),
        ({"jwt_public_key_file": "/etc/presence/jwt.pem"}, False),
        ({"jwt_algorithms": "RS256"}, False),
    ],
)
def test_minting_only_with_the_generated_dev_secret(tmp_path, overrides, expected) -> None:
    settings = demo_settings(tmp_path)
    values = {**settings.__dict__, **overrides}
    assert minting_enabled(Settings(**values)) is expected


async def test_demo_token_signs_in_as_the_chosen_user(tmp_path) -> None:
    async with client_of(demo_settings(tmp_path), store=demo_store()) as client:
        users = (await client.get("/demo/users")).json()["users"]
        session = (await client.post("/demo/token", json={"user_id": 2})).json()
        auth = {"Authorization": f"Bearer {session['token']}"}
        visible = (await client.get("/api/presence/users", headers=auth)).json()
    assert [u["display_name"] for u in users] == ["Ada", "Grace", "Alan", "Linus", "Barbara",
                                                 "Edsger"]
    assert session["user"] == {"user_id": 2, "display_name": "Grace"}
    assert [u["user_id"] for u in session["users"]] == [1, 2, 4, 5]
    assert [p["user_id"] for p in visible] == [1, 2, 4, 5]
    assert session["conversations"] == [{"conversation_id": 1, "participants": [1, 2]},
                                        {"conversation_id": 3, "participants": [2, 4, 5]}]
    assert session["expires_at"].endswith("Z")


async def test_demo_token_rejects_bad_requests_in_the_api_shapes(tmp_path) -> None:
    async with client_of(demo_settings(tmp_path), store=demo_store()) as client:
        unknown = await client.post("/demo/token", json={"user_id": 99})
        wrong_type = await client.post("/demo/token", json={"user_id": "ada"})
        not_json = await client.post("/demo/token", content=b"{")
        wrong_method = await client.get("/demo/token")
        traversal = await client.get("/static/%2e%2e/config.py")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not found"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert not_json.status_code == 422
    assert wrong_method.status_code == 405
    assert traversal.status_code == 404


class FakeStore:
    """A store with the methods of a `storage.Store` but none of its type."""

    async def import_directory(self, document) -> None:
        raise AssertionError("written to by the shape of its methods")


async def test_the_demo_directory_is_written_into_the_two_stores_by_name_and_no_other() -> None:
    memory = MemoryStore()
    await import_demo(memory)
    async with open_store("memory://") as store:
        await import_demo(store)
        stored = await store.load_directory()
    expected = directory_data(DEMO_DIRECTORY)
    for loaded in (memory.directory, stored):
        assert dict(loaded.users) == dict(expected.users)
        assert set(loaded.partnerships) == set(expected.partnerships)
        assert dict(loaded.conversations) == dict(expected.conversations)
    with pytest.raises(TypeError, match="FakeStore"):
        await import_demo(FakeStore())
