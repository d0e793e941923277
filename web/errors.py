"""Every failure as JSON in FastAPI's shape; nothing a client sends can produce a traceback.

Handlers raise; this module maps: AuthError -> 401 + `WWW-Authenticate: Bearer`,
RequestInvalid -> 422 with the issue list, NotFound -> 404, RateLimited -> 429 +
`Retry-After`, ActorUnavailable / a missed deadline -> 503, a plain HTTP request to the
WebSocket path -> 426 with `Upgrade: websocket`, werkzeug's HTTP errors (404, 405, 413...)
-> their code with `{"detail": ...}`. Anything else is a bug: logged with its traceback,
answered with a bare JSON 500.
"""

from __future__ import annotations

import logging
import math

import orjson
import trio
from quart import Quart, Response, has_websocket_context
from werkzeug.exceptions import HTTPException
from werkzeug.routing import WebsocketMismatch

from presence_actors import ActorUnavailable, NotFound, RateLimited

from .auth import AuthError
from .schemas import RequestInvalid

log = logging.getLogger("web")

JSON = "application/json"


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, content_type=JSON)


def error_response(status: int, detail: object, headers: dict | None = None) -> Response:
    return json_response({"detail": detail}, status, headers)


def unauthorized(detail: str) -> Response:
    return error_response(401, detail, {"WWW-Authenticate": "Bearer"})


def rate_limited(retry_after: float) -> Response:
    seconds = max(1, math.ceil(retry_after))
    return error_response(429, f"Too many requests; retry after {seconds} s",
                          {"Retry-After": str(seconds)})


def unavailable(detail: str = "Service temporarily unavailable") -> Response:
    return error_response(503, detail, {"Retry-After": "1"})


def register(app: Quart, on_rate_limited=lambda: None) -> None:
    """Install the handlers; `on_rate_limited` counts 429s for /metrics."""

    @app.errorhandler(AuthError)
    async def _auth(error: AuthError) -> Response:
        return unauthorized(error.detail)

    @app.errorhandler(RequestInvalid)
    async def _invalid(error: RequestInvalid) -> Response:
        return error_response(422, error.issues)

    @app.errorhandler(NotFound)
    async def _not_found(error: NotFound) -> Response:
        return error_response(404, "Not found")

    @app.errorhandler(RateLimited)
    async def _rate_limited(error: RateLimited) -> Response:
        on_rate_limited()
        return rate_limited(error.retry_after)

    @app.errorhandler(ActorUnavailable)
    async def _unavailable(error: ActorUnavailable) -> Response:
        return unavailable()

    @app.errorhandler(trio.TooSlowError)
    async def _too_slow(error: trio.TooSlowError) -> Response:
        return unavailable("Service did not answer in time")

    @app.errorhandler(WebsocketMismatch)
    async def _websocket_mismatch(error: WebsocketMismatch) -> Response:
        if has_websocket_context():  # a WebSocket handshake on an HTTP-only path
            return error_response(400, "This path does not accept WebSocket connections")
        return error_response(426, "This is a WebSocket endpoint: connect with a WebSocket "
                                   "client (Upgrade: websocket)", {"Upgrade": "websocket"})

    @app.errorhandler(HTTPException)
    async def _http(error: HTTPException) -> Response:
        detail = error.description if error.code != 404 else "Not Found"
        if error.code == 413:
            detail = "Request body too large"
        elif error.code == 405:
            detail = "Method Not Allowed"
        response = error_response(error.code or 500, detail)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    async def _bug(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return error_response(500, "Internal Server Error")
