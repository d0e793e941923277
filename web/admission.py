"""Who may open `/api/presence/subscribe` (SPEC §8), decided before the upgrade.

A token (the `Authorization: Bearer` header, else `?token=`) of a user in the directory —
else 401; a well-formed device key — else 422; fewer open sockets than the per-user limit
— else 429. Capacity and draining (503) are the host's to say. A refusal is a plain HTTP
response with the same JSON bodies and headers as every other route (web/errors.py),
sent through hypercorn's `websocket.http.response` extension; nothing is accepted first.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from .auth import AuthError, Identity, authenticate, bearer_token, device_key
from .errors import error_response, rate_limited, unauthorized
from .schemas import RequestInvalid


@dataclass(frozen=True, slots=True)
class Admitted:
    identity: Identity
    device_id: str


async def admit(host, scope: dict):
    """`Admitted`, or the refusal (a Quart Response).

    Raises:
        ActorUnavailable, trio.TooSlowError: the directory could not be read in time.
    """
    headers = _headers(scope)
    args = dict(reversed(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                   keep_blank_values=True)))  # the first value of each
    scope["query_string"] = b""  # read: the token stays out of the access log
    service = host.service
    try:
        identity = await authenticate(service, host.verifier, _token(headers, args))
    except AuthError as error:
        return unauthorized(error.detail)
    try:
        device_id = device_key(identity, headers.get("x-device-id"), args.get("device_id"))
    except RequestInvalid as error:
        return error_response(422, error.issues)
    if service.socket_count(identity.user_id) >= host.settings.max_sockets_per_user:
        return rate_limited(1)
    return Admitted(identity, device_id)


async def refusal_messages(response, scope: dict) -> list[dict]:
    """The ASGI messages that answer an upgrade request with `response` instead."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        return [{"type": "websocket.close", "code": 1008}]  # the server cannot say more
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in response.headers.items()]
    return [
        {"type": "websocket.http.response.start", "status": response.status_code,
         "headers": headers},
        {"type": "websocket.http.response.body", "body": await response.get_data()},
    ]


def _headers(scope: dict) -> dict[str, str]:
    """Request headers by lower-case name; the first of a repeated one."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _token(headers: dict[str, str], args: dict[str, str]) -> str | None:
    return bearer_token(headers.get("authorization")) or (args.get("token") or None)
