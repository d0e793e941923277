"""`/api/presence/subscribe` (SPEC §8): admission before the upgrade, then one session.

Admission answers with a plain HTTP response and never accepts: 401 for a bad token (or a
user removed from the directory meanwhile), 422 for a bad device id, 429 over the
per-user socket limit (checked here, then again by the core in the step that takes the
socket, so concurrent upgrades cannot overshoot it), 503 while draining or when the
user's actor does not answer. Only a checked token gets the upgrade, and the first frame
is always `initial_state`.
"""

from __future__ import annotations

from quart import Blueprint, Response, websocket

from presence_actors import NotFound, TooManySockets

from .auth import AuthError, authenticate, bearer_token, device_key
from .errors import error_response, rate_limited, unauthorized, unavailable
from .host import current_host
from .schemas import RequestInvalid
from .session import SocketSession

subscribe = Blueprint("subscribe", __name__)


def _token() -> str | None:
    return bearer_token(websocket.headers.get("Authorization")) or (
        websocket.args.get("token") or None
    )


@subscribe.websocket("/api/presence/subscribe")
async def subscribe_presence() -> Response | None:
    host = current_host()
    service = host.service
    if service is None or host.draining.is_set():
        return unavailable("Server is shutting down")
    try:
        identity = await authenticate(service, host.verifier, _token())
    except AuthError as error:
        host.metrics.rejected_sockets.labels("401").inc()
        return unauthorized(error.detail)
    try:
        device_id = device_key(identity, websocket.headers.get("X-Device-ID"),
                               websocket.args.get("device_id"))
    except RequestInvalid as error:
        return error_response(422, error.issues)
    limit = host.settings.max_sockets_per_user
    if service.socket_count(identity.user_id) >= limit:
        host.metrics.rejected_sockets.labels("429").inc()
        return rate_limited(1)
    try:
        async with service.subscribe(identity.user_id, device_id) as sub:
            session = SocketSession(websocket._get_current_object(), host, identity,
                                    device_id, sub)
            await session.run()
    except TooManySockets:
        host.metrics.rejected_sockets.labels("429").inc()
        return rate_limited(1)
    except NotFound:  # removed from the directory since the token was checked
        host.metrics.rejected_sockets.labels("401").inc()
        return unauthorized("Unknown user")
    return None

