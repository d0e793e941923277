"""Every route, absurd input: never a 500, never a traceback in the log (SPEC §7).

A table, not a fuzzer: the shapes that broke before (issue 8 items 2 and 15: ids past the
4,300-digit int-string limit, JSON nested 1,000 deep, a 5,000-digit `sub`) and their
neighbours, swept over every HTTP route and the WebSocket upgrade. test_fuzz.py adds
random input on top.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from urllib.parse import quote

import httpx
import trio

from .conftest import SECRET, make_token, serving

EXP = int(time.time() + 600)
DEEP = "[" * 1000 + "]" * 1000
IDS = ["1" * 4301, "1" * 5000, "0" * 5000 + "1", "9" * 19, "9" * 30, "-1", "0", "1e9999",
       "NaN", "%00", quote("١٢"), quote("😀"), "1%2C2", "1" * 12000]
BODIES = [DEEP.encode(), f'{{"status": {DEEP}, "is_typing": {DEEP}}}'.encode(),
          b"[" * 5000, ('{"status": ' + "1" * 4000 + "}").encode(), b'{"status": 1e999999}',
          b'{"is_typing": 1e999999}', b"\xff\xfe\x00", b"\xef\xbb\xbf{}", b"null", b"",
          b'{"status": "online", "status": "bogus"}', b'{"status": "' + b"x" * 4000 + b'"}']
QUERIES = ["user_ids=" + "1" * 5000, "user_ids=" + ",".join(["1" * 25] * 300), "user_ids=%ff",
           "user_ids[]=1", "user_ids=" + "%2C" * 2000, "user_ids=1&user_ids=" + DEEP]


def _raw_token(payload: str, header: str = '{"alg":"HS256","typ":"JWT"}') -> str:
    def part(data: str) -> str:
        return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()

    signing = f"{part(header)}.{part(payload)}"
    signature = hmac.new(SECRET.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


TOKENS = [make_token(1), make_token("1" * 5000), _raw_token(f'{{"sub":{"1" * 5000},"exp":{EXP}}}'),
          make_token("01"), make_token(1, sid="bad sid!"), make_token(1, sid=DEEP),
          _raw_token('{"sub":"1","exp":1e400}'), _raw_token(f'{{"sub":"1","exp":{EXP}}}',
                                                            '{"alg":' + DEEP + "}"),
          "x" * 3000, "a.b.c", ""]
DEVICES = ["", "x" * 3000, "\xe4", "a b", "../../etc", "%00"]


def _requests() -> list[tuple[str, str, bytes | None, dict[str, str]]]:
    """(method, path, body, headers): every route with each absurd part."""
    good = {"Authorization": f"Bearer {TOKENS[0]}"}
    requests = []
    for raw in IDS:
        requests += [("GET", f"/api/presence/users/{raw}", None, good),
                     ("GET", f"/api/presence/users?user_ids={raw}", None, good),
                     ("POST", f"/api/conversations/{raw}/typing", b'{"is_typing": true}', good)]
    for body in BODIES:
        requests += [("POST", "/api/presence/status", body, good),
                     ("POST", "/api/conversations/10/typing", body, good)]
    requests += [("GET", f"/api/presence/users?{query}", None, good) for query in QUERIES]
    routes = [("GET", "/api/presence/users/2", None), ("GET", "/api/presence/users", None),
              ("POST", "/api/presence/status", b'{"status": "away"}'),
              ("POST", "/api/conversations/10/typing", b'{"is_typing": true}'),
              ("GET", "/api/presence/subscribe", None), ("GET", "/healthz", None),
              ("GET", "/readyz", None), ("GET", "/metrics", None),
              ("GET", "/openapi.json", None), ("DELETE", "/api/presence/status", None)]
    for token in TOKENS:
        requests += [(m, p, b, {"Authorization": f"Bearer {token}".strip()}) for m, p, b in routes]
    for device in DEVICES:
        requests += [(m, p, b, {**good, "X-Device-ID": device.encode("latin-1")})
                     for m, p, b in routes[2:4]]
    return requests


async def _upgrade_status(port: int, query: str, headers: dict[str, str]) -> int:
    """The HTTP status a WebSocket upgrade gets (101 or a refusal), over a raw socket."""
    lines = [f"GET /api/presence/subscribe{query} HTTP/1.1", "Host: x", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             *(f"{name}: {value}" for name, value in headers.items())]
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while b"\r\n" not in received:
            chunk = await stream.receive_some()
            if not chunk:
                break
            received += chunk
    return int(received.split(b" ", 2)[1])


async def test_no_route_answers_500_or_logs_an_error_for_absurd_input(caplog):
    caplog.set_level(logging.WARNING)
    async with serving() as server, httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        for method, path, body, headers in _requests():
            response = await client.request(method, path, content=body, headers=headers)
            assert response.status_code < 500, (method, path[:80], response.text[:200])
            if response.status_code not in (400, 413, 414, 431):  # hypercorn's own answers
                assert response.headers["content-type"].startswith(("application/json",
                                                                    "text/plain")), \
                    (method, path[:80], response.status_code, response.text[:100])
        port = int(server.url.rsplit(":", 1)[1])
        for token in TOKENS:
            for query in [f"?token={token}", f"?token={token}&device_id=" + "x" * 65, ""]:
                headers = {} if query else {"Authorization": f"Bearer {token}".strip()}
                status = await _upgrade_status(port, query, headers)
                assert status in (101, 400, 401, 414, 422, 431), (query[:80], status)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
