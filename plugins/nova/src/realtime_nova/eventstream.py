"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``), written from the format.

The plugin itself lets the AWS SDK frame its messages; this codec serves the emulator, which must read
what the SDK writes and write what the SDK reads. It is deliberately independent of the SDK's own codec
so that the tests, which decode both directions with botocore's parser, compare three implementations.

A message is ``total_length:u32 | headers_length:u32 | prelude_crc:u32 | headers | payload |
message_crc:u32`` (big endian); the message CRC covers everything before it. A header is
``name_length:u8 | name | type:u8 | value``.
"""

from __future__ import annotations

import datetime
import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_HEADERS_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "EventStreamError",
    "Int8",
    "Int16",
    "Int64",
    "Message",
    "MessageDecoder",
    "encode_header",
    "encode_headers",
    "encode_message",
]

MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 16 * 1024 * 1024
_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MS = datetime.timedelta(milliseconds=1)


class EventStreamError(ValueError):
    """The bytes are not a valid event-stream message (bad CRC, bad lengths, unknown header type)."""


class Int8(int):
    """A header value encoded as a signed byte (type 2)."""


class Int16(int):
    """A header value encoded as a short (type 3)."""


class Int64(int):
    """A header value encoded as a long (type 5); plain ``int`` is encoded as int32 (type 4)."""


HeaderValue = bool | int | bytes | str | datetime.datetime | uuid.UUID


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded message: its headers (name → Python value) and payload."""

    headers: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""


def encode_header(name: str, value: HeaderValue) -> bytes:
    """Encode one header (name, type byte, value)."""
    raw_name = name.encode("utf-8")
    if len(raw_name) > 255:
        raise EventStreamError(f"header name too long: {name[:40]!r}")
    head = bytes((len(raw_name),)) + raw_name
    if value is True:
        return head + b"\x00"
    if value is False:
        return head + b"\x01"
    if isinstance(value, Int8):
        return head + b"\x02" + struct.pack(">b", value)
    if isinstance(value, Int16):
        return head + b"\x03" + struct.pack(">h", value)
    if isinstance(value, Int64):
        return head + b"\x05" + struct.pack(">q", value)
    if isinstance(value, int):
        return head + b"\x04" + struct.pack(">i", value)
    if isinstance(value, bytes):
        return head + b"\x06" + struct.pack(">H", len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return head + b"\x07" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
        millis = (aware - _EPOCH) // _MS  # integer arithmetic: exact, unlike float timestamps
        return head + b"\x08" + struct.pack(">q", millis)
    if isinstance(value, uuid.UUID):  # pyright: ignore[reportUnnecessaryIsInstance]
        return head + b"\x09" + value.bytes
    raise EventStreamError(f"cannot encode header {name!r} of type {type(value).__name__}")


def encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    return b"".join(encode_header(k, v) for k, v in headers.items())


def encode_message(headers: Mapping[str, HeaderValue] | bytes, payload: bytes = b"") -> bytes:
    """Frame ``payload`` with ``headers`` (a mapping, or headers already encoded)."""
    raw_headers = headers if isinstance(headers, bytes) else encode_headers(headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude_crc = zlib.crc32(prelude)
    head = prelude + _U32.pack(prelude_crc)
    crc = zlib.crc32(payload, zlib.crc32(raw_headers, zlib.crc32(head)))
    return b"".join((head, raw_headers, payload, _U32.pack(crc)))


def decode_headers(data: bytes | memoryview) -> dict[str, Any]:
    """Decode a header block; raises :class:`EventStreamError` on a malformed one."""
    view = memoryview(data)
    out: dict[str, Any] = {}
    pos = 0
    end = len(view)
    try:
        while pos < end:
            name_len = view[pos]
            pos += 1
            name = bytes(view[pos : pos + name_len]).decode("utf-8")
            pos += name_len
            kind = view[pos]
            pos += 1
            value: Any
            if kind == 0:
                value = True
            elif kind == 1:
                value = False
            elif kind == 2:
                (value,) = struct.unpack_from(">b", view, pos)
                pos += 1
            elif kind == 3:
                (value,) = struct.unpack_from(">h", view, pos)
                pos += 2
            elif kind == 4:
                (value,) = struct.unpack_from(">i", view, pos)
                pos += 4
            elif kind in (5, 8):
                (value,) = struct.unpack_from(">q", view, pos)
                pos += 8
                if kind == 8:
                    value = _EPOCH + datetime.timedelta(milliseconds=value)
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", view, pos)
                pos += 2
                raw = bytes(view[pos : pos + length])
                if len(raw) != length:
                    raise EventStreamError("header value runs past the header block")
                pos += length
                value = raw if kind == 6 else raw.decode("utf-8")
            elif kind == 9:
                raw = bytes(view[pos : pos + 16])
                if len(raw) != 16:
                    raise EventStreamError("uuid header runs past the header block")
                value = uuid.UUID(bytes=raw)
                pos += 16
            else:
                raise EventStreamError(f"unknown header type {kind} for {name!r}")
            if pos > end:
                raise EventStreamError("header value runs past the header block")
            if name in out:
                raise EventStreamError(f"duplicate header {name!r}")
            out[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"malformed header block: {exc}") from None
    return out


class MessageDecoder:
    """Splits a byte stream into messages by their prelude (message boundaries need not line up with
    reads or HTTP/2 DATA frames) and checks both CRCs.

    :param max_payload: reject messages with a larger payload (the service's own limit is lower than
        the format's).
    """

    def __init__(self, *, max_payload: int = MAX_PAYLOAD_LENGTH) -> None:
        self._buf = bytearray()
        self._max_payload = max_payload

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[Message, bytes]]:
        """Add ``data``; return every complete message as ``(message, raw_header_bytes)``.

        :raises EventStreamError: on a CRC mismatch or impossible lengths (the stream cannot be resynced).
        """
        self._buf += data
        out: list[tuple[Message, bytes]] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 12:
            total, headers_len, prelude_crc = _PRELUDE.unpack_from(buf, pos)
            if zlib.crc32(memoryview(buf)[pos : pos + 8]) != prelude_crc:
                raise EventStreamError("prelude checksum mismatch")
            if headers_len > MAX_HEADERS_LENGTH:
                raise EventStreamError(f"headers too long: {headers_len}")
            payload_len = total - headers_len - 16
            if payload_len < 0:
                raise EventStreamError(f"impossible message length {total} with {headers_len} header bytes")
            if payload_len > self._max_payload:
                raise EventStreamError(f"payload too long: {payload_len} bytes")
            if len(buf) - pos < total:
                break
            view = memoryview(buf)[pos : pos + total]
            (crc,) = _U32.unpack_from(view, total - 4)
            if zlib.crc32(view[: total - 4]) != crc:
                raise EventStreamError("message checksum mismatch")
            raw_headers = bytes(view[12 : 12 + headers_len])
            payload = bytes(view[12 + headers_len : total - 4])
            view.release()
            out.append((Message(decode_headers(raw_headers), payload), raw_headers))
            pos += total
        if pos:
            del buf[:pos]
        return out
