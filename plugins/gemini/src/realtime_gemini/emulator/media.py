"""Small media helpers for the emulator: image sizes, durations, usage numbers."""

from __future__ import annotations

import struct
from typing import Any, Literal

__all__ = ["duration", "image_size", "usage_metadata"]

_AUDIO_TOKENS_PER_S = 25.0  # Google's published rate for audio
_IMAGE_TOKENS = 258


def duration(seconds: float) -> str:
    """A protobuf Duration string (``"1.500s"``; whole seconds as ``"50s"``)."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s"


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a JPEG or PNG (0, 0 if it is neither or is cut short)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return 0, 0
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and i + 9 <= n:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return 0, 0


def _details(audio: float, text: float, image: float = 0.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if text:
        out.append({"modality": "TEXT", "tokenCount": int(text)})
    if audio:
        out.append({"modality": "AUDIO", "tokenCount": int(audio)})
    if image:
        out.append({"modality": "IMAGE", "tokenCount": int(image)})
    return out


def usage_metadata(
    *,
    prompt_audio_ms: float,
    prompt_chars: int,
    prompt_images: int,
    response_audio_ms: float = 0.0,
    response_chars: int = 0,
    thoughts: int = 0,
    vertex: bool = False,
    part: Literal["full", "prompt", "response"] = "full",
) -> dict[str, Any]:
    """Plausible ``usageMetadata`` in the Developer API's (or Vertex's) field names: the whole turn, only the
    prompt (as generation starts) or only the response side (with ``turnComplete``)."""
    p_audio = prompt_audio_ms / 1000 * _AUDIO_TOKENS_PER_S
    p_text = prompt_chars / 4
    p_image = prompt_images * _IMAGE_TOKENS
    prompt = int(p_audio) + int(p_text) + int(p_image)
    usage: dict[str, Any] = {}
    if part != "response":
        usage["promptTokenCount"] = prompt
        details = _details(p_audio, p_text, p_image)
        if details:
            usage["promptTokensDetails"] = details
    if part == "prompt":
        usage["totalTokenCount"] = prompt
        return usage
    r_audio = response_audio_ms / 1000 * _AUDIO_TOKENS_PER_S
    r_text = response_chars / 4
    response = int(r_audio) + int(r_text)
    usage["candidatesTokenCount" if vertex else "responseTokenCount"] = response
    r_details = _details(r_audio, r_text)
    if r_details:
        usage["candidatesTokensDetails" if vertex else "responseTokensDetails"] = r_details
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt + response + thoughts
    return usage
