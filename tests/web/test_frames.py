"""The fast path's frame encoder, checked against wsproto's own frame parser."""

from __future__ import annotations

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from web.hypercorn_patch import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 4096, 65535, 65536, 70000])
def test_text_frame_is_one_final_unmasked_text_frame_of_any_length(size):
    payload = ('{"a":"' + "é" * size)[:size].encode()[:size]
    payload = payload.decode("utf-8", "ignore").encode()
    parser = FrameProtocol(client=True, extensions=[])
    parser.receive_bytes(text_frame(payload) + text_frame(b'{"next":1}'))
    frames = list(parser.received_frames())
    assert [(f.opcode, f.frame_finished, f.message_finished) for f in frames] == [
        (Opcode.TEXT, True, True),
        (Opcode.TEXT, True, True),
    ]
    assert frames[0].payload == payload.decode()
    assert frames[1].payload == '{"next":1}'
