"""The frames the server writes itself, checked against wsproto's own frame parser."""

from __future__ import annotations

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from web.frames import PING_FRAME, text_frame, text_frames


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


def test_a_batch_is_frames_back_to_back_and_a_ping_is_a_control_frame():
    parser = FrameProtocol(client=True, extensions=[])
    parser.receive_bytes(PING_FRAME + text_frames([b'{"a":1}', b'{"b":2}']))
    frames = list(parser.received_frames())
    assert [(f.opcode, f.payload) for f in frames] == [
        (Opcode.PING, b""), (Opcode.TEXT, '{"a":1}'), (Opcode.TEXT, '{"b":2}')]
