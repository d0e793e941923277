"""The REST calls of the seed (SPEC §7) over a `Transport`, and what each answer means."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import trio

from .models import FrameError, PresenceStatus, UserPresence
from .transport import HttpResponse, Transport, TransportError


class Outcome(Enum):
    """What an answer means to the client's rules."""

    ACCEPTED = "accepted"  # 2xx
    RATE_LIMITED = "rate_limited"  # 429: retry after `retry_after`
    UNAUTHORIZED = "unauthorized"  # 401: stop everything until the next login
    FAILED = "failed"  # no answer, a timeout or a 5xx: the network or server is away
    REFUSED = "refused"  # any other 4xx: this request will never succeed


@dataclass(frozen=True)
class ApiResult:
    outcome: Outcome
    response: HttpResponse | None = None
    retry_after: float = 0.0


class PresenceApiError(Exception):
    """A read that did not succeed; `status` is None when there was no answer."""

    def __init__(self, status: int | None, detail: object) -> None:
        super().__init__(f"HTTP {status}: {detail}" if status else str(detail))
        self.status = status
        self.detail = detail


def classify(response: HttpResponse) -> ApiResult:
    status = response.status
    if 200 <= status < 300:
        return ApiResult(Outcome.ACCEPTED, response)
    if status == 401:
        return ApiResult(Outcome.UNAUTHORIZED, response)
    if status == 429:
        return ApiResult(Outcome.RATE_LIMITED, response, retry_after(response))
    if status >= 500:
        return ApiResult(Outcome.FAILED, response)
    return ApiResult(Outcome.REFUSED, response)


def retry_after(response: HttpResponse) -> float:
    """`Retry-After` in seconds (whole seconds on this server); 1 when absent or unreadable."""
    try:
        value = float(response.headers.get("retry-after", "1"))
    except ValueError:
        return 1.0
    return value if math.isfinite(value) and value >= 0 else 1.0


class PresenceApi:
    """The four endpoints for one device; every call takes the token it should use."""

    def __init__(self, transport: Transport, device_id: str, timeout: float) -> None:
        self.transport = transport
        self.device_id = device_id
        self.timeout = timeout

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-Device-ID": self.device_id}

    async def call(self, token: str, method: str, path: str, body: object = None) -> ApiResult:
        """One request, never raising: no answer within `timeout` is `FAILED`."""
        with trio.move_on_after(self.timeout):
            try:
                response = await self.transport.request(
                    method, path, headers=self.headers(token), json=body)
            except TransportError:
                return ApiResult(Outcome.FAILED)
            return classify(response)
        return ApiResult(Outcome.FAILED)

    async def post_status(self, token: str, status: PresenceStatus) -> ApiResult:
        return await self.call(token, "POST", "/api/presence/status", {"status": status.value})

    async def post_typing(self, token: str, conversation_id: int, is_typing: bool) -> ApiResult:
        return await self.call(token, "POST", f"/api/conversations/{conversation_id}/typing",
                               {"is_typing": is_typing})

    async def get_presences(self, token: str,
                            user_ids: Iterable[int] | None = None) -> list[UserPresence]:
        """Every visible user, or the visible ones among `user_ids`. Raises: PresenceApiError."""
        path = "/api/presence/users"
        if user_ids is not None:
            path += "?user_ids=" + ",".join(str(int(u)) for u in user_ids)
        body = await self._read(token, path)
        if not isinstance(body, list):
            raise PresenceApiError(200, f"expected a list, got {body!r}")
        return [self._parse(item) for item in body]

    async def get_presence(self, token: str, user_id: int) -> UserPresence:
        """One user (404 when unknown or invisible). Raises: PresenceApiError."""
        return self._parse(await self._read(token, f"/api/presence/users/{int(user_id)}"))

    async def _read(self, token: str, path: str) -> object:
        answer = await self.call(token, "GET", path)
        if answer.outcome is Outcome.ACCEPTED:
            return answer.response.body
        if answer.response is None:
            raise PresenceApiError(None, "no answer from the presence service")
        body = answer.response.body
        detail = body.get("detail") if isinstance(body, dict) else body
        raise PresenceApiError(answer.response.status, detail)

    @staticmethod
    def _parse(item: object) -> UserPresence:
        try:
            return UserPresence.from_json(item)
        except FrameError as error:
            raise PresenceApiError(200, str(error)) from None
