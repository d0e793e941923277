"""The four REST endpoints of SPEC §7 through a real hypercorn server."""

from __future__ import annotations

import time

import trio

from presence_actors import parse_time

from .conftest import make_token, serving, test_settings


def _close_to_now(text: str, slack: float = 5) -> bool:
    return abs(parse_time(text) - time.time()) <= slack


# --- seed "Backend Tests" ------------------------------------------------------------------


async def test_post_presence_status_updates_users_presence_correctly(server):
    async with server.client(1) as ada, server.client(2) as grace:
        response = await ada.post("/api/presence/status", json={"status": "away"})
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"user_id", "status", "last_seen"}
        assert body["user_id"] == 1 and body["status"] == "away"
        assert _close_to_now(body["last_seen"])
        seen_by_partner = (await grace.get("/api/presence/users/1")).json()
        assert seen_by_partner == {**body, "is_typing": False}


async def test_get_presence_users_returns_correct_presences_for_visible_users(server):
    async with server.client(1) as ada, server.client(2) as grace:
        await grace.post("/api/presence/status", json={"status": "online"})
        everyone = (await ada.get("/api/presence/users")).json()
        assert [p["user_id"] for p in everyone] == [1, 2, 3]  # Linus and Edsger are invisible
        by_id = {p["user_id"]: p for p in everyone}
        assert by_id[2]["status"] == "online" and by_id[3]["status"] == "offline"
        assert by_id[3]["last_seen"] is None and by_id[1]["is_typing"] is False
        some = await ada.get("/api/presence/users", params={"user_ids": "3,4,2,99,2"})
        assert some.status_code == 200
        assert [p["user_id"] for p in some.json()] == [2, 3]


async def test_get_presence_user_returns_404_for_non_visible_users(server):
    async with server.client(1) as ada:
        invisible = await ada.get("/api/presence/users/4")
        unknown = await ada.get("/api/presence/users/999")
        assert invisible.status_code == unknown.status_code == 404
        assert invisible.json() == unknown.json() == {"detail": "Not found"}
        assert (await ada.get("/api/presence/users/1")).status_code == 200


# --- reads ---------------------------------------------------------------------------------


async def test_is_typing_shows_in_reads_only_to_participants_of_that_conversation(server):
    async with server.client(2) as grace, server.client(1) as ada, server.client(3) as alan:
        assert (await grace.post("/api/conversations/11/typing", json={"is_typing": True})
                ).status_code == 200
        assert (await alan.get("/api/presence/users/2")).json()["is_typing"] is True
        assert (await ada.get("/api/presence/users/2")).json()["is_typing"] is False


async def test_bad_ids_are_422_in_fastapi_shape(server):
    async with server.client(1) as ada:
        for path in ["/api/presence/users/abc", "/api/presence/users/0",
                     "/api/presence/users/-1", "/api/presence/users/1.5",
                     "/api/presence/users/99999999999999999999999"]:
            response = await ada.get(path)
            assert response.status_code == 422, path
            [issue] = response.json()["detail"]
            assert issue["loc"] == ["path", "user_id"] and issue["msg"] and issue["type"]
        for query in ["a", "1,,2", "1,", "1;2", "-3"]:
            response = await ada.get("/api/presence/users", params={"user_ids": query})
            assert response.status_code == 422, query
            assert response.json()["detail"][0]["loc"] == ["query", "user_ids"]
        bad_conversation = await ada.post("/api/conversations/x/typing", json={"is_typing": True})
        assert bad_conversation.status_code == 422


async def test_more_than_500_user_ids_is_422(server):
    async with server.client(1) as ada:
        ok = await ada.get("/api/presence/users",
                           params={"user_ids": ",".join(map(str, range(1, 501)))})
        assert ok.status_code == 200 and len(ok.json()) == 3
        too_many = await ada.get("/api/presence/users",
                                 params={"user_ids": ",".join(map(str, range(1, 502)))})
        assert too_many.status_code == 422
        assert too_many.json()["detail"][0]["type"] == "too_long"


# --- status --------------------------------------------------------------------------------


async def test_bad_status_and_bad_json_are_422(server):
    async with server.client(1) as ada:
        cases = [b'{"status": "busy"}', b'{"status": 1}', b"{}", b"[]", b"not json", b"",
                 b'{"status": null}', b'"online"']
        for body in cases:
            response = await ada.post("/api/presence/status", content=body,
                                      headers={"Content-Type": "application/json"})
            assert response.status_code == 422, body
            detail = response.json()["detail"]
            assert isinstance(detail, list) and detail[0]["loc"][0] == "body", body
            assert {"loc", "msg", "type"} <= set(detail[0])


async def test_status_updates_within_5_s_are_429_with_retry_after_and_change_nothing(server):
    async with server.client(1) as ada:
        first = await ada.post("/api/presence/status", json={"status": "online"})
        assert first.status_code == 200
        again = await ada.post("/api/presence/status", json={"status": "away"})
        assert again.status_code == 429
        assert again.headers["Retry-After"].isdigit()
        assert 1 <= int(again.headers["Retry-After"]) <= 5
        assert "detail" in again.json()
        assert (await ada.get("/api/presence/users/1")).json()["status"] == "online"
        offline = await ada.post("/api/presence/status", json={"status": "offline"})
        assert offline.status_code == 200 and offline.json()["status"] == "offline"
        metrics = (await ada.get("/metrics")).text
        assert 'presence_rate_limited_requests_total{endpoint="/api/presence/status"} 1.0' \
            in metrics


async def test_two_devices_aggregate_to_the_highest_status(server):
    async with server.client(1, **{"X-Device-ID": "phone"}) as phone, \
            server.client(1, **{"X-Device-ID": "laptop"}) as laptop:
        assert (await phone.post("/api/presence/status", json={"status": "away"})
                ).json()["status"] == "away"
        assert (await laptop.post("/api/presence/status", json={"status": "online"})
                ).json()["status"] == "online"
        assert (await laptop.post("/api/presence/status", json={"status": "offline"})
                ).json()["status"] == "away"  # the phone is still away
        assert (await phone.post("/api/presence/status", json={"status": "offline"})
                ).json()["status"] == "offline"


async def test_device_id_comes_from_header_then_sid_then_default(server):
    sid_token = make_token(1, sid="tablet")
    async with server.client(None, Authorization=f"Bearer {sid_token}") as tablet, \
            server.client(1) as default:
        assert (await tablet.post("/api/presence/status", json={"status": "online"})
                ).status_code == 200
        # a different device (the default one) is not rate limited by the tablet's update
        assert (await default.post("/api/presence/status", json={"status": "away"})
                ).status_code == 200
        # the same device through the header is
        again = await default.post("/api/presence/status", json={"status": "online"},
                                   headers={"X-Device-ID": "tablet"})
        assert again.status_code == 429


async def test_malformed_device_id_is_422(server):
    async with server.client(1) as ada:
        for device in ["", "a" * 65, "has space", "ünï".encode("latin-1"), "a/b"]:
            response = await ada.post("/api/presence/status", json={"status": "online"},
                                      headers={"X-Device-ID": device})
            assert response.status_code == 422, device
            assert response.json()["detail"][0]["loc"] == ["header", "X-Device-ID"]
        ok = await ada.post("/api/presence/status", json={"status": "online"},
                            headers={"X-Device-ID": "A-z_0.9" + "x" * 57})
        assert ok.status_code == 200


# --- typing --------------------------------------------------------------------------------


async def test_typing_answers_with_iso_expiry_and_null_when_stopped(server):
    async with server.client(1) as ada:
        started = await ada.post("/api/conversations/10/typing", json={"is_typing": True})
        assert started.status_code == 200
        body = started.json()
        assert set(body) == {"conversation_id", "user_id", "is_typing", "expires_at"}
        assert body["conversation_id"] == 10 and body["user_id"] == 1 and body["is_typing"]
        assert 3 <= parse_time(body["expires_at"]) - time.time() <= 6
        stopped = (await ada.post("/api/conversations/10/typing", json={"is_typing": False})
                   ).json()
        assert stopped["is_typing"] is False and stopped["expires_at"] is None


async def test_typing_by_a_non_participant_or_in_an_unknown_conversation_is_404(server):
    async with server.client(3) as alan:
        forbidden = await alan.post("/api/conversations/10/typing", json={"is_typing": True})
        unknown = await alan.post("/api/conversations/12345/typing", json={"is_typing": True})
        assert forbidden.status_code == unknown.status_code == 404
        assert forbidden.json() == unknown.json()


async def test_typing_body_must_be_a_boolean(server):
    async with server.client(1) as ada:
        for body in [{"is_typing": "yes"}, {"is_typing": 1}, {}, {"is_typing": None}]:
            response = await ada.post("/api/conversations/10/typing", json=body)
            assert response.status_code == 422, body
            assert response.json()["detail"][0]["loc"][:2] == ["body", "is_typing"]


async def test_typing_beyond_the_burst_is_429_with_retry_after(server):
    async with server.client(1) as ada:
        codes = [(await ada.post("/api/conversations/10/typing", json={"is_typing": True}))
                 for _ in range(7)]
        assert [r.status_code for r in codes[:5]] == [200] * 5
        limited = codes[-1]
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


# --- generic errors ------------------------------------------------------------------------


async def test_oversized_body_is_413(server):
    async with server.client(1) as ada:
        big = b'{"status": "online", "pad": "' + b"x" * 5000 + b'"}'
        response = await ada.post("/api/presence/status", content=big,
                                  headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.json() == {"detail": "Request body too large"}

        async def chunks():
            for _ in range(10):
                yield b"x" * 1000

        chunked = await ada.post("/api/presence/status", content=chunks())
        assert chunked.status_code == 413


async def test_unknown_paths_and_methods_are_json(server):
    async with server.client(1) as ada:
        missing = await ada.get("/api/nothing")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
        wrong = await ada.delete("/api/presence/status")
        assert wrong.status_code == 405 and wrong.json() == {"detail": "Method Not Allowed"}
        assert "POST" in wrong.headers["Allow"]


async def test_an_unanswered_actor_is_503_not_a_hang():
    settings = test_settings(request_timeout=0.2)
    async with serving(settings) as running:

        async def stuck(*args, **kwargs):
            await trio.sleep_forever()

        running.service.set_status = stuck  # an actor that never replies
        async with running.client(1) as ada:
            response = await ada.post("/api/presence/status", json={"status": "online"})
            assert response.status_code == 503
            assert "detail" in response.json()


async def test_health_and_readiness_need_no_token(server):
    async with server.client(None) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        assert (await anonymous.get("/readyz")).status_code == 200
        metrics = await anonymous.get("/metrics")
        assert metrics.status_code == 200
        assert "presence_sockets_open 0.0" in metrics.text
        assert 'presence_live_actors{kind="user"}' in metrics.text
        assert "presence_pushes_total" in metrics.text


async def test_readyz_is_503_when_the_store_is_unreachable(server):
    server.store.ready = lambda: False
    async with server.client(None) as anonymous:
        response = await anonymous.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"detail": "not ready", "down": ["store"]}


async def test_regression_an_unread_request_body_does_not_stall_the_next_request(server):
    """A GET with a body, answered without reading it, stalled a later request on the same
    keep-alive connection (hypercorn + quart-trio; found by the fuzz test)."""
    async with server.client(1) as ada:
        with trio.fail_after(5):
            for _ in range(30):
                response = await ada.request("GET", "/healthz", content=b"x")
                assert response.status_code == 200


async def test_metrics_export_storage_pending_and_flush_time_with_a_sqlite_store(tmp_path):
    settings = test_settings(database_url=f"sqlite:///{tmp_path}/presence.db", demo=True)
    async with serving(settings) as running, running.client(1) as ada:
        assert (await ada.post("/api/presence/status", json={"status": "online"})
                ).status_code == 200
        text = (await ada.get("/metrics")).text
        assert "presence_storage_pending " in text
        assert "presence_storage_last_flush_seconds" in text
        assert "presence_storage_ready 1.0" in text
        assert (await ada.get("/readyz")).status_code == 200
