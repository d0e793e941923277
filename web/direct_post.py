"""The two hot POSTs — `POST /api/presence/status` and `POST /api/conversations/{id}/typing`
— answered as raw ASGI in front of Quart, with the same handlers' logic and answers.

Why: under F2's mix (400 of these a second) Quart's own per-request machinery — a request
and an app context, URL matching, `before_request` / `after_request` hooks, its response
object sent through quart-trio — was 18 % of the server's CPU, more than the handlers,
authentication and the actor round trip together (py-spy, docs/benchmarks.md). Here a
request is one coroutine: read the body (at most `MAX_BODY_BYTES`), authenticate, parse,
call the service, answer JSON.

The answers are those of `web/rest.py` with `web/errors.py`, case by case: 401 (with
`WWW-Authenticate: Bearer`) before anything about the body, then 413, 422 in the same
order and shape (path id, body, `X-Device-ID`), 404, 429 with `Retry-After` (counted in
`presence_rate_limited_requests_total` under the Quart rule's name), 503 with
`Retry-After`, and a logged 500 for a bug. A body that was not read to its end (too large)
gets `Connection: close`, as `app._drain_body` gives it. Any other method or path is
Quart's; tests/web/test_direct_post.py holds both paths to the same answers.
"""

from __future__ import annotations

import logging

import orjson
import trio
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout

from presence_actors import ActorUnavailable, NotFound, RateLimited, format_time

from .auth import AuthError, authenticate, bearer_token, device_key
from .config import MAX_BODY_BYTES
from .errors import error_response, rate_limited, unauthorized, unavailable
from .schemas import RequestInvalid, StatusRequest, TypingRequest, parse_body, parse_id

log = logging.getLogger("web")

STATUS_PATH = "/api/presence/status"
TYPING_PREFIX, TYPING_SUFFIX = "/api/conversations/", "/typing"
STATUS_RULE = STATUS_PATH  # the endpoint label of the 429 counter, as Quart names the rules
TYPING_RULE = "/api/conversations/<conversation_id>/typing"


def route_of(scope: dict) -> str | None:
    """The rule of a POST this module answers, else None (Quart's)."""
    if scope.get("method") != "POST":
        return None
    path = scope.get("path", "")
    if path == STATUS_PATH:
        return STATUS_RULE
    if path.startswith(TYPING_PREFIX) and path.endswith(TYPING_SUFFIX):
        middle = path[len(TYPING_PREFIX) : -len(TYPING_SUFFIX)]
        if middle and "/" not in middle:
            return TYPING_RULE
    return None


BODY_TIMEOUT = 30.0  # Quart's BODY_TIMEOUT (web/app.py): then 408, as Quart answers


class DirectPost:
    def __init__(self, host) -> None:
        self.host = host

    async def __call__(self, rule: str, scope: dict, receive, send) -> None:
        headers = _headers(scope)
        body, complete = None, False  # None: the body did not come in BODY_TIMEOUT
        with trio.move_on_after(BODY_TIMEOUT):
            body, complete = await _read_body(headers, receive)
        if body is GONE:
            return  # the client went away: nothing to answer
        try:
            payload = await self._answer(rule, scope, headers, body, complete)
        except Exception as error:  # every failure is an answer, as web/errors.py gives it
            response = self._failure(rule, error)
            status, payload = response.status_code, await response.get_data()
            extra = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                     for k, v in response.headers.items()
                     if k.lower() not in ("content-type", "content-length")]
        else:
            status, extra = 200, []
        head = [(b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()), *extra]
        if body is None or not complete:  # unread body: the connection cannot be reused
            head.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, rule: str, scope: dict, headers: dict[str, str],
                      body: bytes | None, complete: bool) -> bytes:
        host = self.host
        service = host.service
        if service is None:
            raise ActorUnavailable("starting")
        identity = await authenticate(service, host.verifier,
                                      bearer_token(headers.get("authorization")))
        timeout = host.settings.request_timeout + 1.0  # web.rest.call's deadline
        if rule == STATUS_RULE:
            request = parse_body(StatusRequest, _complete(body, complete))
            device = device_key(identity, headers.get("x-device-id"))
            with trio.fail_after(timeout):
                record = await service.set_status(identity.user_id, device, request.status)
            return orjson.dumps(record.as_json())
        cid = parse_id(scope["path"][len(TYPING_PREFIX) : -len(TYPING_SUFFIX)],
                       "conversation_id")
        request = parse_body(TypingRequest, _complete(body, complete))
        device = device_key(identity, headers.get("x-device-id"))
        with trio.fail_after(timeout):
            result = await service.set_typing(identity.user_id, cid, request.is_typing, device)
        return orjson.dumps({
            "conversation_id": result.conversation_id,
            "user_id": result.user_id,
            "is_typing": result.is_typing,
            "expires_at": format_time(result.expires_at),
        })

    def _failure(self, rule: str, error: Exception):
        """web/errors.py's response to `error` (the handlers Quart would run)."""
        if isinstance(error, AuthError):
            return unauthorized(error.detail)
        if isinstance(error, HTTPException):  # 413, 408
            return error_response(error.code, "Request body too large" if error.code == 413
                                  else error.description)
        if isinstance(error, RequestInvalid):
            return error_response(422, error.issues)
        if isinstance(error, NotFound):
            return error_response(404, "Not found")
        if isinstance(error, RateLimited):
            self.host.metrics.rate_limited.labels(rule).inc()
            return rate_limited(error.retry_after)
        if isinstance(error, ActorUnavailable):
            return unavailable()
        if isinstance(error, trio.TooSlowError):
            return unavailable("Service did not answer in time")
        log.exception("unhandled error", exc_info=error)
        return error_response(500, "Internal Server Error")


def _complete(body: bytes | None, complete: bool) -> bytes:
    if body is None:
        raise RequestTimeout()
    if not complete:
        raise RequestEntityTooLarge()
    return body


GONE = b"gone"  # `_read_body`: the client disconnected (this very object, not its value)


async def _read_body(headers: dict[str, str], receive) -> tuple[bytes, bool]:
    """The body, and whether it was read to its end within `MAX_BODY_BYTES` (else what
    came is dropped, and the connection closes after the answer); `GONE` when the client
    disconnected first."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return b"", False
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return GONE, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _headers(scope: dict) -> dict[str, str]:
    """The request's headers by lower-case name; the first of a repeated one (as Quart)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers
