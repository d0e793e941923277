"""What a client frame does (SPEC §8): ping, status and typing with the REST rules.

`answer` applies one frame for a socket's user and device and returns the reply frame, if
any: a pong, or an error (`invalid_frame`, `rate_limited`, `not_found`, `unavailable`).
Every accepted frame is activity of the device; a malformed one too (the client is alive).
"""

from __future__ import annotations

import contextlib

import orjson
import trio
from pydantic import ValidationError

from presence_actors import ActorUnavailable, NotFound, PresenceStatus, RateLimited

from .schemas import ClientFrame, PingFrame, StatusFrame

PONG = orjson.dumps({"type": "pong"})
_PING = PingFrame(type="ping")  # the frame of the plain `{"type": "ping"}`, validated once
_STATUS = {status.value: StatusFrame(type="status", status=status) for status in PresenceStatus}


def error_frame(code: str, detail: str) -> bytes:
    return orjson.dumps({"type": "error", "data": {"code": code, "detail": detail}})


RATE_LIMITED_FRAMES = error_frame("rate_limited", "Too many frames; slow down")


async def answer(service, user: int, device: str, data: bytes, timeout: float,
                 on_rate_limited=lambda: None, later=lambda frame: None,
                 posted=lambda slot: None) -> bytes | None:
    """Apply one client frame; the reply frame, if any. `timeout`: the service's deadline.

    A status frame is posted, not awaited (`service.post_status`): accepted, it has no
    reply, and a refusal the actor decides later reaches the socket through `later`;
    `posted` gets the request's slot (the session waits on it before its next frame)."""
    try:
        frame = _parse(data)
        if frame is _PING:  # most frames: no deadline, `touch` never waits
            await service.touch(user, device)
            return PONG
        if isinstance(frame, StatusFrame):  # no deadline: the post never waits for the actor

            def refused(error: BaseException) -> None:
                later(refusal_frame(error, on_rate_limited))

            # The cluster limiter, if any, bounds its own wait (50 ms).
            posted(await service.post_status(user, device, frame.status, refused))
            return None
        with trio.fail_after(timeout + 1.0):
            await service.touch(user, device)
            if isinstance(frame, PingFrame):
                return PONG
            await service.set_typing(user, frame.conversation_id, frame.is_typing)
            return None
    except _BadFrame as error:
        with trio.move_on_after(timeout), contextlib.suppress(ActorUnavailable):
            await service.touch(user, device)
        return error_frame("invalid_frame", str(error))
    except (RateLimited, NotFound, ActorUnavailable, trio.TooSlowError) as error:
        return refusal_frame(error, on_rate_limited)


def refusal_frame(error: BaseException, on_rate_limited=lambda: None) -> bytes:
    """The error frame of a refused frame (SPEC §8's codes)."""
    if isinstance(error, RateLimited):
        on_rate_limited()
        return error_frame("rate_limited", f"Too many requests; retry after {error.retry_after} s")
    if isinstance(error, NotFound):
        return error_frame("not_found", "Not found")
    return error_frame("unavailable", "Service temporarily unavailable")


class _BadFrame(ValueError):
    pass


def _parse(data: bytes):
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _BadFrame("Frame is not valid JSON") from None
    if document == {"type": "ping"}:  # an app ping every 30 s per socket: skip pydantic
        return _PING
    if type(document) is dict and len(document) == 2 and document.get("type") == "status":
        status = document.get("status")  # the plain status frame (F4: 5,000 a second)
        if type(status) is str and status in _STATUS:
            return _STATUS[status]
    try:
        return ClientFrame.model_validate({"frame": document}).frame
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise _BadFrame(f"{where}: {first['msg']}") from None
