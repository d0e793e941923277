"""web/client_frames.answer on its own: the plain app ping takes a short path (no pydantic,
no deadline) with the same effect and reply as any other ping."""

from __future__ import annotations

import orjson
import pytest

from presence_actors import ActorUnavailable, RateLimited
from web import client_frames
from web.schemas import ClientFrame


class Service:
    def __init__(self, fail: bool = False) -> None:
        self.touched: list[tuple[int, str]] = []
        self.fail = fail

    async def touch(self, user: int, device: str) -> None:
        if self.fail:
            raise ActorUnavailable("overloaded")
        self.touched.append((user, device))


@pytest.mark.parametrize("frame", [b'{"type":"ping"}', b'{ "type" : "ping" }',
                                   b'{"type": "ping", "extra": 1}'])
async def test_every_ping_is_activity_of_the_device_and_answered_with_a_pong(frame):
    service = Service()
    assert await client_frames.answer(service, 7, "phone", frame, 1.0) == client_frames.PONG
    assert service.touched == [(7, "phone")]


async def test_a_ping_to_an_unavailable_actor_is_an_unavailable_error_frame():
    reply = await client_frames.answer(Service(fail=True), 7, "phone", b'{"type":"ping"}', 1.0)
    assert orjson.loads(reply)["data"]["code"] == "unavailable"


@pytest.mark.parametrize("frame", [b'{"type":"Ping"}', b'{"type":["ping"]}', b'["ping"]'])
async def test_what_only_looks_like_a_ping_is_an_invalid_frame(frame):
    service = Service()
    reply = await client_frames.answer(service, 7, "phone", frame, 1.0)
    assert orjson.loads(reply)["data"]["code"] == "invalid_frame"
    assert service.touched == [(7, "phone")]  # a malformed frame is activity too


@pytest.mark.parametrize("document", [
    {"type": "ping"}, {"type": "status", "status": "online"}, {"type": "status", "status": "away"},
    {"type": "status", "status": "offline"}, {"status": "away", "type": "status"},
])
def test_the_short_path_gives_the_frame_pydantic_gives(document):
    parsed = client_frames._parse(orjson.dumps(document))
    assert parsed == ClientFrame.model_validate({"frame": document}).frame
    assert type(parsed) is type(ClientFrame.model_validate({"frame": document}).frame)


@pytest.mark.parametrize("document", [
    {"type": "status", "status": "busy"}, {"type": "status", "status": ["away"]},
    {"type": "status"}, {"type": "status", "status": None},
])
def test_a_bad_status_frame_is_still_refused_by_the_validated_path(document):
    with pytest.raises(client_frames._BadFrame):
        client_frames._parse(orjson.dumps(document))


class Posting(Service):
    """A service whose actor refuses the posted status after `answer` has returned."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error, self.refusals = error, []

    async def post_status(self, user, device, status, on_refused):
        self.refusals.append(lambda: on_refused(self.error))
        return "the slot"


@pytest.mark.parametrize(("error", "code"), [(RateLimited(2), "rate_limited"),
                                             (ActorUnavailable("failing"), "unavailable")])
async def test_a_status_frame_is_posted_and_its_refusal_arrives_later(error, code):
    service, later, limited, slots = Posting(error), [], [], []
    frame = b'{"type": "status", "status": "away"}'
    reply = await client_frames.answer(service, 7, "phone", frame, 1.0,
                                       lambda: limited.append(1), later.append, slots.append)
    assert reply is None and later == [] and slots == ["the slot"]  # before the actor decided
    service.refusals[0]()
    assert [orjson.loads(f)["data"]["code"] for f in later] == [code]
    assert limited == ([1] if code == "rate_limited" else [])
