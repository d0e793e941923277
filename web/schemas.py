"""The wire schemas (seed document + SPEC §7): they validate requests and document the API.

The same models feed `/openapi.json` (through quart-schema's `document_*` decorators) and
`parse_body`, so the published schema cannot drift from what is accepted; ids in paths and
`user_ids` are parsed by hand (`parse_id`, `parse_user_ids`) and documented as what they
accept in `web/openapi.py`.
Validation errors come out in FastAPI's shape: 422 `{"detail": [{"loc", "msg", "type"}]}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    ValidationError,
    model_validator,
)

from presence_actors import PresenceStatus

if TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

MAX_ID = 2**63 - 1  # every id (user, conversation, `sub`) is a positive signed 64-bit integer
MAX_IDS = 500  # distinct ids in one `user_ids`
MAX_DEPTH = 32  # JSON nesting in a body or frame; ours are flat, a deep one is an attack
_MAX_ID_DIGITS = len(str(MAX_ID))
PositiveId = Annotated[int, Field(gt=0, le=MAX_ID)]
Timestamp = Annotated[
    str | None,
    Field(description="ISO 8601 UTC, whole seconds, Z suffix", examples=["2024-01-01T12:00:00Z"]),
]


M = TypeVar("M", bound=BaseModel)


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """True when JSON `value` nests lists/objects more than `limit` levels deep.

    Iterative, so a hostile document cannot exhaust the stack here; checked before
    pydantic sees the input, whose error path recurses (a 1,000-level `status` was a 500).
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class WireModel(BaseModel):
    """A client-sent document: extra fields ignored, nesting bounded (422, never a 500)."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _bounded_nesting(cls, data: object) -> object:
        if too_deep(data):
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        return data


class StatusRequest(WireModel):
    status: PresenceStatus


class TypingRequest(WireModel):
    is_typing: StrictBool


class UserIdsQuery(BaseModel):
    """Documents `GET /api/presence/users`' query (`parse_user_ids` reads it)."""

    user_ids: list[PositiveId] = Field(
        default_factory=list,
        description=f"Comma-separated user ids, at most {MAX_IDS} distinct; absent: every "
                    f"user the caller can see; empty: none",
        examples=[[1, 2, 3]],
    )


class StatusResponse(BaseModel):
    user_id: int
    status: PresenceStatus
    last_seen: Timestamp


class PresenceResponse(StatusResponse):
    is_typing: bool


class PresenceList(RootModel[list[PresenceResponse]]):
    """Presences of the visible users, ascending `user_id`."""


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


def id_from_text(raw: str) -> int | None:
    """A positive 64-bit id written in ASCII digits (leading zeros allowed), else None.

    Never builds a big int: the length is checked first, so 5,000 digits cost nothing
    (Python refuses to parse more than 4,300 digits, which was a 500).
    """
    if not (raw.isascii() and raw.isdigit()):
        return None
    digits = raw.lstrip("0")
    if not digits or len(digits) > _MAX_ID_DIGITS:
        return None
    value = int(digits)
    return value if value <= MAX_ID else None


def parse_id(raw: str, name: str, where: str = "path") -> int:
    """A positive 64-bit id from text (path segment or list item); 422 otherwise.

    Raises:
        RequestInvalid: not a positive 64-bit integer.
    """
    value = id_from_text(raw)
    if value is None:
        raise RequestInvalid([issue([where, name],
                                    f"Input should be an integer from 1 to {MAX_ID}",
                                    "int_parsing")])
    return value


def parse_user_ids(args: MultiDict) -> list[int] | None:
    """`user_ids=1,2,3` (repeats joined) as sorted distinct ids; None when absent.

    An empty value names no ids (`[]`); look-alike parameters (`user_ids[]=1`, `user_id=1`)
    are refused rather than ignored, since ignoring them would answer with everyone.

    Raises:
        RequestInvalid: a malformed id, a look-alike parameter, over MAX_IDS distinct ids.
    """
    for name in args:
        if name != "user_ids" and name.startswith("user_id"):
            raise RequestInvalid([issue(["query", name], "Unknown parameter; use user_ids=1,2,3",
                                        "extra_forbidden")])
    values = args.getlist("user_ids")
    if not values:
        return None
    items = [item.strip() for value in values if value.strip() for item in value.split(",")]
    ids = {parse_id(item, "user_ids", "query") for item in items}
    if len(ids) > MAX_IDS:
        raise RequestInvalid(
            [issue(["query", "user_ids"], f"At most {MAX_IDS} distinct user ids", "too_long")]
        )
    return sorted(ids)


def device_issue(source: list) -> RequestInvalid:
    return RequestInvalid(
        [issue(source, "Device id must be 1-64 characters of [A-Za-z0-9._-]", "string_pattern")]
    )


# The WebSocket's client frames (SPEC §8), validated with the same rules as REST.
class PingFrame(WireModel):
    type: Literal["ping"]


class StatusFrame(StatusRequest):
    type: Literal["status"]


class TypingFrame(TypingRequest):
    type: Literal["typing"]
    conversation_id: PositiveId


class ClientFrame(WireModel):
    frame: Annotated[PingFrame | StatusFrame | TypingFrame, Field(discriminator="type")]
