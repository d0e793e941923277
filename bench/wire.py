"""Minimal asyncio WebSocket and HTTP/1.1 clients for the load side.

The load generator shares one core with thousands of sockets, so it speaks the protocols
directly on `asyncio.Protocol` instead of a full client library: a frame header is two
bytes to read, and a read that brings many frames handles them in one loop. Clients send
with an all-zero masking key (legal on the wire, and the payload needs no XOR); servers
here never see anything but loopback.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (FIN set, masking key 0)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


def upgrade_request(path: str, host: str, headers: dict[str, str] | None = None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Subscriber(asyncio.Protocol):
    """One WebSocket client: `on_message(self, payload)` is called for every text message.

    `opened` resolves to the HTTP status of the upgrade response (101 on success); `closed`
    resolves to the close code (or 1006 when the connection just dropped).
    """

    def __init__(self, request: bytes, on_message: Callable[[Subscriber, bytes], None]) -> None:
        self.request = request
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[int] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()
        self.first: asyncio.Future[None] = loop.create_future()  # set by the owner
        self.buf = bytearray()
        self.fragments: bytearray | None = None
        self.upgraded = False
        self.frames = 0
        self.pings = 0  # protocol pings from the server (hypercorn's keep-alive)
        self.count_only = False  # when set, only every 256th message reaches on_message
        self.tag: object = None  # what the owner needs to know about this socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(0)
        if not self.closed.done():
            self.closed.set_result(1006)

    def send_text(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(TEXT, payload))

    def close(self, code: int = 1000) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(CLOSE, code.to_bytes(2, "big")))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = int(bytes(buf[9:12]))
            del buf[: end + 4]
            self.upgraded = status == 101
            if not self.opened.done():  # cancelled if the connect phase gave up on it
                self.opened.set_result(status)
            if not self.upgraded:
                self.transport.close()
                return
        self._frames(buf)

    def _frames(self, buf: bytearray) -> None:
        i, n = 0, len(buf)
        while n - i >= 2:
            b0, length = buf[i], buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length, head = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
            elif length == 127:
                if n - i < 10:
                    break
                length, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            end = i + head + length
            if end > n:
                break
            if b0 == 0x81 and self.count_only and self.frames & 0xFF and self.frames > 1:
                self.frames += 1  # fast path: a whole text frame nobody needs to read
            else:
                self._frame(b0, bytes(buf[i + head : end]))
            i = end
        if i:
            del buf[:i]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode, fin = b0 & 0x0F, b0 & 0x80
        if opcode == TEXT or opcode == 0x2 or opcode == 0:
            if not fin or self.fragments is not None:  # fragmented message
                self.fragments = (self.fragments or bytearray()) + payload
                if not fin:
                    return
                payload, self.fragments = bytes(self.fragments), None
            self.frames += 1
            self.on_message(self, payload)
        elif opcode == PING:
            self.pings += 1
            self.transport.write(client_frame(PONG, payload))
        elif opcode == CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.closed.done():
                self.closed.set_result(code)
            self.close(code if code < 5000 and code not in (1005, 1006) else 1000)


async def open_subscriber(
    host: str, port: int, path: str, on_message: Callable[[Subscriber, bytes], None],
    headers: dict[str, str] | None = None,
) -> Subscriber:
    loop = asyncio.get_running_loop()
    request = upgrade_request(path, f"{host}:{port}", headers)
    _, proto = await loop.create_connection(lambda: Subscriber(request, on_message), host, port)
    return proto


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: `await request(...)` -> (status, body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing() or self.reader.at_eof():
            self.close()  # the server closed an idle keep-alive connection: a new one
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method in ("POST", "PUT"):
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            return await self._response()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise

    async def _response(self) -> tuple[int, bytes]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            body = await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = b""
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
