"""The wire schemas (seed document + SPEC §7): they validate requests and document the API.

The same models feed `/openapi.json` (through quart-schema's `document_*` decorators) and
`parse_body` / `parse_query`, so the published schema cannot drift from what is accepted.
Validation errors come out in FastAPI's shape: 422 `{"detail": [{"loc", "msg", "type"}]}`.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from presence_actors import PresenceStatus

MAX_IDS = 500
_MAX_ID = 2**63 - 1
PositiveId = Annotated[int, Field(gt=0, le=_MAX_ID)]
Timestamp = Annotated[
    str | None,
    Field(description="ISO 8601 UTC, whole seconds, Z suffix", examples=["2024-01-01T12:00:00Z"]),
]


M = TypeVar("M", bound=BaseModel)


class StatusRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: PresenceStatus


class TypingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    is_typing: StrictBool


class UserIdsQuery(BaseModel):
    user_ids: str | None = Field(
        None, description=f"Comma-separated user ids, at most {MAX_IDS}", examples=["1,2,3"]
    )


class StatusResponse(BaseModel):
    user_id: int
    status: PresenceStatus
    last_seen: Timestamp


class PresenceResponse(StatusResponse):
    is_typing: bool


class PresenceList(BaseModel):
    """Documentation only: the body is a bare JSON array of presences."""

    root: list[PresenceResponse]


class TypingResponse(BaseModel):
    conversation_id: int
    user_id: int
    is_typing: bool
    expires_at: Timestamp


class ErrorResponse(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    detail: list[ValidationIssue]


class RequestInvalid(Exception):
    """422 with FastAPI's list of issues."""

    def __init__(self, issues: list[dict]) -> None:
        super().__init__(issues)
        self.issues = issues


def issue(loc: list, msg: str, kind: str) -> dict:
    return {"loc": loc, "msg": msg, "type": kind}


def parse_body(model: type[M], body: bytes) -> M:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestInvalid(
            [issue(["body"], f"JSON decode error: {error}", "json_invalid")]
        ) from None
    return _validate(model, data, "body")


def _validate(model: type[M], data: object, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestInvalid(
            [issue([where, *e["loc"]], e["msg"], e["type"]) for e in error.errors()]
        ) from None


def parse_id(raw: str, name: str, where: str = "path") -> int:
    """A positive 64-bit id from text (path segment or list item); 422 otherwise."""
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= _MAX_ID:
        return int(raw)
    raise RequestInvalid(
        [issue([where, name], "Input should be a positive integer", "int_parsing")]
    )


def parse_user_ids(values: list[str]) -> list[int] | None:
    """`user_ids=1,2,3` (repeats joined); None when absent. Over MAX_IDS distinct ids: 422."""
    if not values:
        return None
    items = [item.strip() for value in values for item in value.split(",")]
    if len(items) > MAX_IDS:
        raise RequestInvalid(
            [issue(["query", "user_ids"], f"At most {MAX_IDS} user ids", "too_long")]
        )
    return sorted({parse_id(item, "user_ids", "query") for item in items})


def device_issue(source: list) -> RequestInvalid:
    return RequestInvalid(
        [issue(source, "Device id must be 1-64 characters of [A-Za-z0-9._-]", "string_pattern")]
    )


# The WebSocket's client frames (SPEC §8), validated with the same rules as REST.
class PingFrame(BaseModel):
    type: Literal["ping"]


class StatusFrame(StatusRequest):
    type: Literal["status"]


class TypingFrame(TypingRequest):
    type: Literal["typing"]
    conversation_id: PositiveId


class ClientFrame(BaseModel):
    frame: Annotated[PingFrame | StatusFrame | TypingFrame, Field(discriminator="type")]
