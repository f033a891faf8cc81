"""The emulator's event-stream codec against two independent implementations: botocore's parser and
the smithy codec the AWS SDK itself uses."""

from __future__ import annotations

import datetime
import uuid

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from smithy_aws_event_stream.events import Byte, Event, EventMessage, Long, Short

from realtime_nova.eventstream import EventStreamError, Int8, Int16, Int64, MessageDecoder, encode_message


def test_every_header_type_decodes_with_botocore() -> None:
    when = datetime.datetime(2026, 11, 22, 1, 2, 3, 456000, tzinfo=datetime.UTC)
    ident = uuid.uuid4()
    headers = {
        "t": True,
        "f": False,
        "b": Int8(-5),
        "s": Int16(1234),
        "i": 70000,
        "l": Int64(1 << 40),
        "raw": b"\x00\x01\xff",
        "str": "héllo",
        ":date": when,
        "id": ident,
    }
    frame = encode_message(headers, b'{"x":1}')
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    (message,) = list(buffer)
    decoded = message.headers
    assert decoded["t"] is True and decoded["f"] is False
    assert decoded["b"] == -5 and decoded["s"] == 1234 and decoded["i"] == 70000 and decoded["l"] == 1 << 40
    assert decoded["raw"] == b"\x00\x01\xff" and decoded["str"] == "héllo"
    assert decoded[":date"] == int(when.timestamp() * 1000)  # botocore keeps timestamps as epoch millis
    assert decoded["id"] == ident.bytes
    assert message.payload == b'{"x":1}'


def test_decodes_what_the_sdk_codec_writes_split_at_every_byte() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    sdk_frames = [
        EventMessage(
            headers={":message-type": "event", ":event-type": "chunk", "n": Byte(7), "m": Short(-2), "k": Long(9)},
            payload=b'{"bytes":"e30="}',
        ).encode(),
        EventMessage(headers={":date": when, ":chunk-signature": b"\x01" * 32}, payload=b"").encode(),
    ]
    stream = b"".join(sdk_frames)
    decoder = MessageDecoder()
    messages = []
    for i in range(len(stream)):  # one byte at a time: boundaries never line up with reads
        messages += decoder.feed(stream[i : i + 1])
    assert decoder.pending == 0
    first, second = (m for m, _ in messages)
    assert first.headers == {":message-type": "event", ":event-type": "chunk", "n": 7, "m": -2, "k": 9}
    assert first.payload == b'{"bytes":"e30="}'
    assert second.headers[":date"] == when
    assert second.headers[":chunk-signature"] == b"\x01" * 32


def test_sdk_codec_decodes_what_the_emulator_writes() -> None:
    import io

    frame = encode_message(
        {":message-type": "event", ":event-type": "chunk", ":content-type": "application/json"}, b"{}"
    )
    event = Event.decode(io.BytesIO(frame))
    assert event is not None
    assert event.message.headers[":event-type"] == "chunk"
    assert event.message.payload == b"{}"


def test_corruption_is_refused_by_both_decoders() -> None:
    frame = bytearray(encode_message({"a": "b"}, b"payload"))
    frame[-6] ^= 0x01
    with pytest.raises(EventStreamError, match="checksum"):
        MessageDecoder().feed(bytes(frame))
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buffer)
    prelude = bytearray(encode_message({}, b""))
    prelude[2] ^= 0x10
    with pytest.raises(EventStreamError, match="prelude"):
        MessageDecoder().feed(bytes(prelude))


def test_oversized_payload_refused_before_it_is_buffered() -> None:
    frame = encode_message({}, b"x" * 2048)
    with pytest.raises(EventStreamError, match="too long"):
        MessageDecoder(max_payload=1024).feed(frame[:16])
