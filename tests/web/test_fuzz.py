"""No input produces a 500, a traceback, or a dropped socket (SPEC §7, §8).

The clients are synchronous (schemathesis' `case.call`, httpx, websockets' sync client),
so each fuzz loop runs in a worker thread while the server runs on the trio loop.
Example counts are bounded to keep the suite fast; failures shrink as usual.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import orjson
import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from websockets.sync.client import connect

from .conftest import bearer, make_token, serving, test_settings

_FRAMES = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "status", "typing", "other"]) | st.text(max_size=20)},
    optional={"status": st.sampled_from(["online", "away", "offline"]) | st.text(max_size=20),
              "conversation_id": st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20),
              "is_typing": st.booleans() | st.integers(-5, 5)},
)
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _no_errors_logged(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_schemathesis_finds_no_server_error_on_any_endpoint(caplog):
    # a long rate-limit window is fine: 429 is a valid answer too
    async with serving(test_settings()) as server:
        async with server.client(None) as anonymous:
            schema = schemathesis.openapi.from_dict((await anonymous.get("/openapi.json")).json())
        seen: dict[int, int] = {}

        def run() -> None:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @FUZZ
                @given(case=schema.as_strategy(generation_mode=mode))
                def check(case) -> None:
                    response = case.call(base_url=server.url, headers=bearer(1))
                    seen[response.status_code] = seen.get(response.status_code, 0) + 1
                    assert response.status_code < 500, (case.path, case.body, response.text)
                    [content_type] = response.headers["content-type"]  # a list per header
                    assert content_type.startswith("application/json")
                check()

        await trio.to_thread.run_sync(run)
    assert {200, 404, 422} <= set(seen), seen
    _no_errors_logged(caplog)


_TEXT = st.text(max_size=60)
_INT = st.integers(-(2**63), 2**64 - 1)  # what JSON encoders write
_SEGMENT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"),
                   min_size=1, max_size=30)


async def test_raw_requests_with_arbitrary_bodies_paths_queries_and_headers_never_500(caplog):
    async with serving() as server:

        def run() -> None:
            client = httpx.Client(base_url=server.url, timeout=10)

            @FUZZ
            @given(
                body=st.binary(max_size=300) | st.builds(orjson.dumps, st.recursive(
                    st.none() | st.booleans() | _INT | st.floats() | _TEXT,
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["status", "is_typing", "x"]) | _TEXT,
                                      inner, max_size=3),
                    max_leaves=6)),
                segment=_SEGMENT,
                query=_TEXT,
                device=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=70),
                token=st.sampled_from([make_token(1), make_token(2), "junk", ""]),
            )
            def check(body, segment, query, device, token) -> None:
                segment = quote(segment, safe="")
                headers = {"X-Device-ID": device.strip(" \t")}  # h11 refuses edge blanks
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                for method, path in [
                    ("POST", "/api/presence/status"),
                    ("POST", f"/api/conversations/{segment}/typing"),
                    ("GET", f"/api/presence/users/{segment}"),
                    ("GET", "/api/presence/users"),
                ]:
                    params = {"user_ids": query} if path.endswith("users") else None
                    response = client.request(method, path, content=body, params=params,
                                              headers=headers)
                    assert response.status_code < 500, (method, path, body, response.text)
                    assert isinstance(response.json(), dict | list)

            check()
            client.close()

        await trio.to_thread.run_sync(run)
    _no_errors_logged(caplog)


async def test_arbitrary_websocket_frames_get_answers_and_never_close_the_socket(caplog):
    # frames as fast as hypothesis makes them: the per-socket frame limit is not under test
    async with serving(test_settings(ws_frame_rate=0)) as server:

        def run() -> None:
            url = server.ws_url + f"?token={make_token(2)}"
            with connect(url, max_size=2**20) as ws:
                assert orjson.loads(ws.recv(timeout=5))["type"] == "initial_state"

                @FUZZ
                @given(frame=st.binary(max_size=200) | _TEXT | st.builds(orjson.dumps, _FRAMES))
                def check(frame) -> None:
                    ws.send(frame)
                    ws.send('{"type": "ping"}')
                    while True:  # every frame is answered or silently applied; pong comes last
                        message = orjson.loads(ws.recv(timeout=5))
                        assert message["type"] in {"pong", "error", "presence_update",
                                                   "typing_update"}, message
                        if message["type"] == "error":
                            assert set(message["data"]) == {"code", "detail"}
                        if message["type"] == "pong":
                            return

                check()

        await trio.to_thread.run_sync(run)
    _no_errors_logged(caplog)
