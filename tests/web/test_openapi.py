"""docs/openapi.json says what the API does: real responses are validated against it.

Regression (reliability audit §2, schemathesis ST108 / ST202): the presence list was
documented as an object with `root` while the API returns a bare array, and request
bodies were not marked required, so a body-less POST the document allowed got 422.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import bearer, serving, test_settings

ROOT = Path(__file__).resolve().parents[2]
# Not negative_data_rejection: every case is sent with a valid token (a case that drops
# Authorization still carries it), and unknown query parameters are ignored on purpose
# (cache busters such as `_=123`) where schemathesis expects them refused.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, positive_data_acceptance]
BOUNDED = settings(max_examples=80, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))


def _committed_document() -> dict:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


async def test_real_responses_conform_to_the_committed_openapi_document(caplog):
    # generous limits, so a valid request is answered 200/404 rather than rate limited
    limits = test_settings(status_min_interval=0.0, user_status_burst=1_000_000,
                           typing_burst=100_000, typing_rate=1e6)
    schema = schemathesis.openapi.from_dict(_committed_document())
    async with serving(limits) as server:
        seen: dict[int, int] = {}

        def run() -> None:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @BOUNDED
                @given(case=schema.as_strategy(generation_mode=mode))
                def check(case) -> None:
                    response = case.call(base_url=server.url,
                                         headers={**bearer(1), "X-Device-ID": "openapi"})
                    seen[response.status_code] = seen.get(response.status_code, 0) + 1
                    case.validate_response(response, checks=CHECKS)

                check()

        await trio.to_thread.run_sync(run)
    assert {200, 422} <= set(seen), seen  # both kinds of case were really exercised
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_document_describes_the_list_as_an_array_and_bodies_as_required():
    paths = _committed_document()["paths"]
    listing = paths["/api/presence/users"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    [user_ids] = listing["parameters"]
    assert (user_ids["style"], user_ids["explode"], user_ids["schema"]["type"]) == \
        ("form", False, "array")
    for path, method in [("/api/presence/status", "post"),
                         ("/api/conversations/{conversation_id}/typing", "post")]:
        operation = paths[path][method]
        assert operation["requestBody"]["required"] is True, path
        assert {"413", "429"} <= set(operation["responses"]), path
        assert "Retry-After" in operation["responses"]["429"]["headers"], path
