"""web/direct_post.py answers the two hot POSTs exactly as the Quart handlers do: the same
requests, sent once through the direct path and once with it switched off (everything to
Quart), get the same status, headers and body (timestamps aside)."""

from __future__ import annotations

import logging

import httpx
import pytest

from presence_actors import parse_time
from web import asgi, direct_post

from .conftest import bearer, serving

TOO_BIG = b'{"status": "online", "pad": "' + b"x" * 5000 + b'"}'


async def _chunks():
    for _ in range(10):
        yield b"x" * 1000


def _requests():
    """(method, path, headers, body) in order; the state they build up is the same for both."""
    ada = bearer(1)
    return [
        ("POST", "/api/presence/status", ada, b'{"status": "away"}'),
        ("POST", "/api/presence/status", {**ada, "X-Device-ID": "phone"}, b'{"status": "online"}'),
        ("POST", "/api/presence/status", {}, b'{"status": "away"}'),
        ("POST", "/api/presence/status", {"Authorization": "Bearer nonsense"}, b"{}"),
        ("POST", "/api/presence/status", {"Authorization": "Basic abc"}, b"{}"),
        ("POST", "/api/presence/status", bearer(999), b'{"status": "away"}'),
        ("POST", "/api/presence/status", ada, b'{"status": "asleep"}'),
        ("POST", "/api/presence/status", ada, b"not json"),
        ("POST", "/api/presence/status", ada, b""),
        ("POST", "/api/presence/status", ada, b'{"status": "away", "status": 1}'),
        ("POST", "/api/presence/status", {**ada, "X-Device-ID": "no spaces"},
         b'{"status": "away"}'),
        ("POST", "/api/presence/status", ada, TOO_BIG),
        ("POST", "/api/presence/status", {}, TOO_BIG),
        ("POST", "/api/presence/status", ada, _chunks),
        ("POST", "/api/presence/status/", ada, b'{"status": "away"}'),
        ("GET", "/api/presence/status", ada, b""),
        ("POST", "/api/conversations/10/typing", ada, b'{"is_typing": true}'),
        ("POST", "/api/conversations/11/typing", ada, b'{"is_typing": true}'),
        ("POST", "/api/conversations/abc/typing", ada, b'{"is_typing": true}'),
        ("POST", "/api/conversations/abc/typing", ada, TOO_BIG),
        ("POST", "/api/conversations/" + "9" * 30 + "/typing", ada, b"{}"),
        ("POST", "/api/conversations/10/typing", ada, b'{"is_typing": "yes"}'),
        ("POST", "/api/conversations/10/typing", {}, b'{"is_typing": true}'),
        ("POST", "/api/conversations/10/typing", {**ada, "X-Device-ID": ""},
         b'{"is_typing": true}'),
        *[("POST", "/api/conversations/10/typing", ada, b'{"is_typing": true}')] * 6,  # 429
        ("POST", "/api/conversations//typing", ada, b'{"is_typing": true}'),
    ]


def _comparable(response: httpx.Response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "server")}
    try:
        body = response.json()
    except ValueError:
        body = response.content
    if isinstance(body, dict):
        for key in ("last_seen", "expires_at"):
            if key in body:
                parse_time(body[key])  # a time in the contract's format; its value varies
                body[key] = "<time>"
    return response.status_code, headers, body


async def _answers() -> list[tuple]:
    answers = []
    async with serving() as server, httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        for method, path, headers, body in _requests():
            content = body() if callable(body) else body
            response = await client.request(method, path, headers=headers, content=content)
            answers.append(_comparable(response))
        metrics = server.host.metrics.render().decode()
        answers.append([line for line in metrics.splitlines()
                        if line.startswith("presence_rate_limited_requests_total{")])
    return answers


async def test_the_direct_path_answers_as_quart_does(monkeypatch, caplog):
    caplog.set_level(logging.ERROR)
    direct = await _answers()
    monkeypatch.setattr(asgi, "route_of", lambda scope: None)  # everything to Quart
    through_quart = await _answers()
    assert direct == through_quart
    codes = [answer[0] for answer in direct[:-1]]
    assert {200, 401, 404, 405, 413, 422, 429} <= set(codes)
    assert direct[-1] == [
        'presence_rate_limited_requests_total{endpoint="/api/conversations/<conversation_id>'
        '/typing"} 2.0']
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("method", "path", "rule"), [
    ("POST", "/api/presence/status", direct_post.STATUS_RULE),
    ("POST", "/api/conversations/12/typing", direct_post.TYPING_RULE),
    ("POST", "/api/conversations/x/y/typing", None),
    ("POST", "/api/conversations//typing", None),
    ("POST", "/api/presence/status/", None),
    ("PUT", "/api/presence/status", None),
    ("POST", "/api/presence/users", None),
])
def test_only_the_two_posts_take_the_direct_path(method, path, rule):
    assert direct_post.route_of({"method": method, "path": path}) == rule
