"""Bringing a JPEG under DashScope's image size limit (256 KB of base64, about 192 KB of JPEG)."""

from __future__ import annotations

import logging
from typing import Any

from realtime_core.video import encode_jpeg

__all__ = ["MAX_IMAGE_B64_BYTES", "MAX_IMAGE_BYTES", "shrink_jpeg"]

log = logging.getLogger("realtime_qwen.video")
MAX_IMAGE_B64_BYTES = 256 * 1024
MAX_IMAGE_BYTES = MAX_IMAGE_B64_BYTES // 4 * 3
"""The largest JPEG whose base64 fits in 256 KB."""
_QUALITIES = (60, 45, 30)


def shrink_jpeg(data: bytes, max_bytes: int = MAX_IMAGE_BYTES) -> bytes | None:
    """Re-encode ``data`` at lower quality, then smaller, until it fits ``max_bytes``; None if it cannot.

    Blocking (decoding and encoding): run it in a thread.
    """
    import av

    try:
        codec: Any = av.CodecContext.create("mjpeg", "r")
        frames = list(codec.decode(av.Packet(data)))
    except Exception as exc:  # not a JPEG we can read
        log.debug("cannot decode the frame to shrink it: %r", exc)
        return None
    if not frames:
        return None
    frame = frames[0]
    width, height = frame.width, frame.height
    for _ in range(4):
        for quality in _QUALITIES:
            jpeg = encode_jpeg(frame, max_width=width, max_height=height, quality=quality)
            if len(jpeg.data) <= max_bytes:
                return jpeg.data
        width, height = width * 3 // 4, height * 3 // 4
    return None
