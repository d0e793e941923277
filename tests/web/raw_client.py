"""A WebSocket client on a bare trio socket, for what real client libraries will not do:
send malformed or oversized frames, stop reading, never answer a ping or a close, and show
every frame the server wrote, in order (a close frame and anything after it included).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

import trio

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != CLOSE:
            return None
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else 1005


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True,
                 rsv: int = 0, length: int | None = None) -> bytes:
    """One client frame; `length` overrides the announced payload length."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((first, mask_bit | n))
    elif n < 65536:
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", n)
    return head + (b"\0\0\0\0" if masked else b"") + payload  # a zero key: payload as is


class RawClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def connect(cls, url: str, path: str, receive_buffer: int | None = None,
                      headers: str = "") -> RawClient:
        host, port = url.removeprefix("http://").split(":")
        sock = trio.socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        await sock.connect((host, int(port)))
        client = cls(trio.SocketStream(sock))
        await client.stream.send_all((
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n").encode())
        return client

    async def upgraded(self) -> bytes:
        """The response head; the client is a WebSocket if it says 101."""
        while b"\r\n\r\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError(self.buffer)
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def frame(self) -> Frame | None:
        """The next server frame; None at EOF (or a reset)."""
        while (parsed := _parse(self.buffer)) is None:
            try:
                chunk = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                chunk = b""
            if not chunk:
                return None
            self.buffer += chunk
        frame, self.buffer = parsed
        return frame

    async def frames_until_eof(self) -> list[Frame]:
        frames = []
        while (frame := await self.frame()) is not None:
            frames.append(frame)
        return frames

    async def aclose(self) -> None:
        await self.stream.aclose()


def _parse(buffer: bytes) -> tuple[Frame, bytes] | None:
    if len(buffer) < 2:
        return None
    n, offset = buffer[1] & 0x7F, 2
    if n == 126:
        if len(buffer) < 4:
            return None
        n, offset = struct.unpack("!H", buffer[2:4])[0], 4
    elif n == 127:
        if len(buffer) < 10:
            return None
        n, offset = struct.unpack("!Q", buffer[2:10])[0], 10
    if len(buffer) < offset + n:
        return None
    return Frame(buffer[0] & 0x0F, buffer[offset:offset + n]), buffer[offset + n:]
