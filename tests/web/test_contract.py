"""The published contract: docs/openapi.json, and the seed's cross-platform parity checklist."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from presence_actors import PresenceStatus, parse_time
from web.config import Settings

from .conftest import receive_json, wait_for

ROOT = Path(__file__).resolve().parents[2]
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


async def test_the_committed_openapi_document_is_what_the_app_serves(server):
    async with server.client(None) as anonymous:
        served = (await anonymous.get("/openapi.json")).json()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == served, "regenerate: presence-actors openapi > docs/openapi.json"
    paths = served["paths"]
    assert set(paths) == {"/api/presence/status", "/api/presence/users",
                          "/api/presence/users/{user_id}",
                          "/api/conversations/{conversation_id}/typing"}
    assert set(paths["/api/presence/status"]["post"]["responses"]) >= {"200", "401", "422", "429"}


# --- seed "Cross-Platform Parity Tests" ----------------------------------------------------


async def test_status_enum_values_match_across_all_platforms(server):
    assert [s.value for s in PresenceStatus] == ["online", "away", "offline"]  # the iOS enum
    async with server.client(None) as anonymous:
        schema = (await anonymous.get("/openapi.json")).json()
    assert schema["components"]["schemas"]["PresenceStatus"]["enum"] == \
        ["online", "away", "offline"]
    async with server.client(1) as ada:
        for value in ["online", "ONLINE", "Online", "idle"]:
            response = await ada.post("/api/presence/status", json={"status": value},
                                      headers={"X-Device-ID": f"d-{value}"})
            assert response.status_code == (200 if value == "online" else 422), value


async def test_date_formats_are_iso_8601_on_all_platforms(server):
    """Every timestamp, REST and WebSocket: ISO 8601 UTC, whole seconds, `Z` (Swift's
    default decoder rejects fractional seconds)."""
    stamps: list[str] = []
    async with server.subscribe(2) as grace, server.client(1) as ada:
        await receive_json(grace)
        stamps.append((await ada.post("/api/presence/status", json={"status": "online"})
                       ).json()["last_seen"])
        stamps += [p["last_seen"] for p in (await ada.get("/api/presence/users")).json()
                   if p["last_seen"]]
        stamps.append((await ada.post("/api/conversations/10/typing", json={"is_typing": True})
                       ).json()["expires_at"])
        update = await wait_for(grace, lambda m: m["type"] == "presence_update")
        stamps.append(update["data"]["last_seen"])
    async with server.subscribe(2) as grace:
        initial = await receive_json(grace)
        stamps += [p["last_seen"] for p in initial["data"]["presences"] if p["last_seen"]]
    assert len(stamps) >= 5
    for stamp in stamps:
        assert ISO_Z.fullmatch(stamp), stamp
        assert abs(parse_time(stamp) - time.time()) < 60


async def test_typing_indicator_timeout_matches_5_seconds_server_side(server):
    assert Settings().typing_ttl == 5.0 and Settings().timing().typing_ttl == 5.0
    async with server.client(1) as ada:
        before = time.time()
        body = (await ada.post("/api/conversations/10/typing", json={"is_typing": True})).json()
        after = time.time()
    expires = parse_time(body["expires_at"])  # floored to whole seconds
    assert int(before + 5) - 1 <= expires <= after + 5
