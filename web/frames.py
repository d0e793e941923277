"""The WebSocket frames the server writes itself, and reading the close code of one.

A server frame is unmasked (RFC 6455 §5.1), so a final text frame is a two-to-ten byte
header and the UTF-8 payload, and a ping is two bytes. With permessage-deflate negotiated,
an uncompressed message (RSV1 clear) is still valid (RFC 7692 §6). Writing these directly
is what lets one task put a change on a thousand sockets with a syscall each
(`web/pump.py`); everything else — the upgrade, client frames, close frames — is hypercorn's.
"""

from __future__ import annotations

import struct

TEXT, PING = 0x1, 0x9
FINAL = 0x80
PING_FRAME = bytes((FINAL | PING, 0))


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame around UTF-8 `payload`."""
    size = len(payload)
    if size < 126:
        return bytes((FINAL | TEXT, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", FINAL | TEXT, 126, size) + payload
    return struct.pack("!BBQ", FINAL | TEXT, 127, size) + payload


def text_frames(payloads: list[bytes]) -> bytes:
    """Several text frames, back to back: one write puts a whole batch on the wire."""
    if len(payloads) == 1:
        return text_frame(payloads[0])
    return b"".join([text_frame(p) for p in payloads])

