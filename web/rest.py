"""The four REST endpoints of the seed document (SPEC §7), plus health, readiness, metrics.

Each handler parses, calls the service under a deadline, and renders; every failure is an
exception that `errors.py` maps to a status code. Authentication runs in `before_request`,
so a request without a valid token is 401 before its body or query is even looked at.
"""

from __future__ import annotations

import trio
from quart import Blueprint, Response, g, request
from quart_schema import (
    document_querystring,
    document_request,
    document_response,
    hide,
    operation_id,
)

from presence_actors import ActorUnavailable, format_time

from .auth import Identity, authenticate, bearer_token, device_key
from .errors import json_response
from .host import current_host
from .schemas import (
    ErrorResponse,
    PresenceList,
    PresenceResponse,
    StatusRequest,
    StatusResponse,
    TypingRequest,
    TypingResponse,
    UserIdsQuery,
    ValidationErrorResponse,
    parse_body,
    parse_id,
    parse_user_ids,
)

api = Blueprint("api", __name__)
ops = Blueprint("ops", __name__)


async def call(awaitable):
    """Await the service under the request deadline (a little past the actor's own)."""
    host = current_host()
    with trio.fail_after(host.settings.request_timeout + 1.0):
        return await awaitable


def responses(ok, *errors: int):
    """Document the 200 model, and the errors every endpoint has plus these."""

    def decorate(func):
        func = document_response(ok, 200)(func)
        for code in sorted({401, 422, 503, *errors}):
            model = ValidationErrorResponse if code == 422 else ErrorResponse
            func = document_response(model, code)(func)
        return func

    return decorate


@api.before_request
async def _authenticate() -> None:
    host = current_host()
    if host.service is None:
        raise ActorUnavailable("starting")
    token = bearer_token(request.headers.get("Authorization"))
    g.identity = await authenticate(host.service, host.verifier, token)


@api.post("/api/presence/status")
@operation_id("status")
@document_request(StatusRequest)
@responses(StatusResponse, 413, 429)
async def post_status() -> Response:
    """Set the caller's status on this device; answers with the user's aggregate status."""
    body = parse_body(StatusRequest, await request.get_data())
    identity: Identity = g.identity
    device = device_key(identity, request.headers.get("X-Device-ID"))
    service = current_host().service
    record = await call(service.set_status(identity.user_id, device, body.status))
    return json_response(record.as_json())


@api.get("/api/presence/users")
@operation_id("presences")
@document_querystring(UserIdsQuery)
@responses(PresenceList)
async def get_presences() -> Response:
    """Presence of every user the caller can see, or of the visible ones among `user_ids`."""
    ids = parse_user_ids(request.args)
    views = await call(current_host().service.presences(g.identity.user_id, ids))
    return json_response([view.as_json() for view in views])


@api.get("/api/presence/users/<user_id>")
@operation_id("presence")
@responses(PresenceResponse, 404)
async def get_presence(user_id: str) -> Response:
    """One user's presence; 404 when unknown or not visible to the caller (alike on purpose)."""
    target = parse_id(user_id, "user_id")
    view = await call(current_host().service.presence(g.identity.user_id, target))
    return json_response(view.as_json())


@api.post("/api/conversations/<conversation_id>/typing")
@operation_id("typing")
@document_request(TypingRequest)
@responses(TypingResponse, 404, 413, 429)
async def post_typing(conversation_id: str) -> Response:
    """Start (expires in 5 s unless refreshed) or stop typing; participants only, else 404."""
    cid = parse_id(conversation_id, "conversation_id")
    body = parse_body(TypingRequest, await request.get_data())
    identity: Identity = g.identity
    service = current_host().service
    device = device_key(identity, request.headers.get("X-Device-ID"))
    result = await call(service.set_typing(identity.user_id, cid, body.is_typing, device))
    return json_response(
        {
            "conversation_id": result.conversation_id,
            "user_id": result.user_id,
            "is_typing": result.is_typing,
            "expires_at": format_time(result.expires_at),
        }
    )


@ops.get("/healthz")
@hide
async def healthz() -> Response:
    return json_response({"status": "ok"})


@ops.get("/readyz")
@hide
async def readyz() -> Response:
    """200 while this node can answer requests; `down` names what is down all the same
    (Redis: the node answers from what it holds). 503 names what it cannot do without."""
    host = current_host()
    unready, degraded = host.unready(), host.degraded()
    if unready:
        return json_response({"detail": "not ready", "down": unready + degraded}, 503)
    if degraded:
        return json_response({"status": "degraded", "down": degraded})
    return json_response({"status": "ready"})


@ops.get("/metrics")
@hide
async def metrics() -> Response:
    body = current_host().metrics.render()
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")
