"""The bench's own bookkeeping: frame parsing, loss and latency matching, flush lag."""

from __future__ import annotations

import asyncio

from bench import directories, report
from bench.scenarios import Row
from bench.scenarios.f4_storage import flush_lags
from bench.wire import PONG, Subscriber, client_frame


def server_frame(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((n,))
    else:
        head += bytes((126,)) + n.to_bytes(2, "big")
    return head + payload


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_subscriber_parses_split_fragmented_and_long_frames() -> None:
    asyncio.run(_split_fragmented_and_long())  # the load side is asyncio, not trio


async def _split_fragmented_and_long() -> None:
    got: list[bytes] = []
    sub = Subscriber(b"GET / HTTP/1.1\r\n\r\n", lambda _s, m: got.append(m))
    sub.connection_made(FakeTransport())
    long = b"x" * 300
    stream = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        + server_frame(b'{"a":1}')
        + server_frame(long)
        + server_frame(b"pi", opcode=0x9)
        + server_frame(b"hel", fin=False)
        + server_frame(b"lo", opcode=0x0)
    )
    for i in range(0, len(stream), 7):  # arrives in awkward pieces
        sub.data_received(stream[i : i + 7])
    assert await sub.opened == 101
    assert got == [b'{"a":1}', long, b"hello"]
    assert sub.transport.written[-1] == client_frame(PONG, b"pi")


def test_subscriber_reports_a_refused_upgrade() -> None:
    asyncio.run(_refused())


async def _refused() -> None:
    sub = Subscriber(b"", lambda _s, _m: None)
    sub.connection_made(FakeTransport())
    sub.data_received(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
    assert await asyncio.wait_for(sub.opened, 1) == 401


def test_client_frames_are_masked_with_a_zero_key() -> None:
    assert client_frame(0x1, b"hi") == b"\x81\x82\0\0\0\0hi"
    assert client_frame(0x1, b"x" * 200)[:4] == b"\x81\xfe\x00\xc8"


def test_ring_contacts_are_symmetric_and_exclude_self() -> None:
    n, c = 20, 6
    for uid in range(1, n + 1):
        contacts = directories.ring_contacts(uid, n, c)
        assert len(set(contacts)) == c and uid not in contacts
        assert all(uid in directories.ring_contacts(o, n, c) for o in contacts)
    pairs = {tuple(sorted(p)) for p in directories.mix(n, c)["partnerships"]}
    assert len(pairs) == n * c // 2


def test_flush_lag_counts_coalesced_changes_at_the_later_flush() -> None:
    sent = {7: [(1.0, "away"), (2.0, "online"), (3.0, "away")]}
    observed = {7: [(0.0, "online"), (1.5, "away"), (3.4, "away")]}
    lags, missing = flush_lags(sent, observed)
    # "online" at 2.0 was never seen on its own: flushed with the "away" seen at 3.4
    assert [round(x, 3) for x in lags] == [0.5, 1.4, 0.4] and missing == 0
    lags, missing = flush_lags({7: [(1.0, "away")]}, {7: [(0.5, "online")]})
    assert lags == [] and missing == 1


def test_table_lists_rows_with_verdicts_and_cpu_per_operation() -> None:
    text = report.table([Row("F9 x", "1 thing", "< 2", True, "a|b"),
                         Row("F8 y", "2", "< 3", False, "", {"cpu_per_op": {"POST": 2500.0}}),
                         Row("F1 z", "3", "> 1", None, "", {"service": {"server_cpu": 0.9,
                                                                           "rate": 45_000}})])
    assert "| F9 x | 1 thing | < 2 | yes | - | a/b |" in text
    assert "| F8 y | 2 | < 3 | **NO** | 2,500 us/POST |  |" in text
    assert "| F1 z | 3 | > 1 | n/a | 20.0 us/delivery |  |" in text
