"""What the emulated model sends: Nova output events for the turn template's steps.

Each function takes the :class:`~realtime_nova.emulator.connection.NovaConnection` and sends through its
``event()``; the emulator's switches choose among the orderings and fields the real service was seen to
send (see :class:`~realtime_nova.emulator.NovaEmulator`).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from realtime_core.audio import PcmData
from realtime_core.emulator import PlannedToolCall, PlannedTurn, ReplyStream

if TYPE_CHECKING:
    from .connection import NovaConnection

__all__ = [
    "ERROR_NAMESPACE",
    "INTERRUPTED_MARKER",
    "OutputState",
    "exception_member",
    "final_texts",
    "http_error_for",
    "interrupted",
    "interrupted_marker",
    "plan",
    "reply_step",
    "tool_use",
    "turn_opening",
    "usage",
    "user_transcript",
]

INTERRUPTED_MARKER = '{ "interrupted" : true }'
ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_SENTENCE = re.compile(r"(?<=[.!?])(?=\s)")  # split after a sentence, keeping the space with the next one
_TOKENS_PER_SECOND = 25  # a rough speech-token rate for the emulated usage events
_EXCEPTIONS = {
    name.lower(): name
    for name in ("validationException", "throttlingException", "modelTimeoutException", "modelStreamErrorException",
                 "internalServerException", "serviceUnavailableException")
}  # fmt: skip
_STATUS_EXCEPTIONS = {400: "validationException", 408: "modelTimeoutException", 424: "modelStreamErrorException",
                      429: "throttlingException", 503: "serviceUnavailableException"}  # fmt: skip
_HTTP_TYPES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
               408: "ModelTimeoutException", 424: "ModelStreamErrorException", 429: "ThrottlingException",
               500: "InternalServerException", 503: "ServiceUnavailableException"}  # fmt: skip


@dataclass
class OutputState:
    """What one connection has said so far (per turn)."""

    opened_turns: set[int] = field(default_factory=set[int])
    spoken_ms: dict[int, float] = field(default_factory=dict[int, float])
    usage_total: list[list[int]] = field(default_factory=lambda: [[0, 0], [0, 0]])  # input, output: [speech, text]


# ---------------------------------------------------------------------------------------------- errors
def _status(code: str) -> int | None:
    text = code.lower().removeprefix("http:")
    return int(text) if text.isdigit() and 400 <= int(text) < 600 else None


def exception_member(code: str) -> str:
    """The output-union exception member for a fault code: a member name, an HTTP status, or anything else
    (``server_error``...) → ``internalServerException``."""
    member = _EXCEPTIONS.get(code.lower())
    if member is not None:
        return member
    status = _status(code)
    return _STATUS_EXCEPTIONS.get(status, "internalServerException") if status else "internalServerException"


def http_error_for(code: str) -> tuple[int, str]:
    """The HTTP status and error type of a fault code when the error comes before the stream starts."""
    status = _status(code)
    if status is None:
        member = exception_member(code)
        status = next((s for s, m in _STATUS_EXCEPTIONS.items() if m == member), 500)
    return status, _HTTP_TYPES.get(status, "InternalServerException")


# ---------------------------------------------------------------------------------------------- blocks
async def _text_block(conn: NovaConnection, role: str, stage: str, text: str, stop: str) -> None:
    content_id = str(uuid.uuid4())
    await conn.event("contentStart", {"contentId": content_id, "type": "TEXT", "role": role,
                                      "additionalModelFields": json.dumps({"generationStage": stage}),
                                      "textOutputConfiguration": {"mediaType": "text/plain"}})  # fmt: skip
    await conn.event("textOutput", {"contentId": content_id, "content": text, "role": role})
    await conn.event("contentEnd", {"contentId": content_id, "type": "TEXT", "stopReason": stop})


async def turn_opening(conn: NovaConnection, turn: PlannedTurn) -> None:
    """Once per turn: the input usage (``usage_timing="interleaved"``: before ``completionStart`` on the
    first turn, as the service's event flow lists it) and ``completionStart``."""
    out = conn.out
    if turn.index in out.opened_turns:
        return
    out.opened_turns.add(turn.index)
    if conn.emulator.usage_timing == "interleaved":
        await usage(conn, turn, input_only=True)
    await conn.completion_start()


async def user_transcript(conn: NovaConnection, text: str) -> None:
    """What the model heard: one USER text block, or two (``split_user_transcript``), each ending
    ``user_stop_reason``."""
    words = text.split(" ")
    pieces = [text]
    if conn.emulator.split_user_transcript and len(words) > 1:
        half = len(words) // 2
        pieces = [" ".join(words[:half]), " " + " ".join(words[half:])]
    for piece in pieces:
        await _text_block(conn, "USER", "FINAL", piece, conn.emulator.user_stop_reason)


# ---------------------------------------------------------------------------------------------- replies
def _segments(text: str, audio: PcmData | None, by_sentence: bool) -> list[tuple[str, PcmData | None]]:
    sentences = [s for s in _SENTENCE.split(text) if s] if (text and by_sentence) else [text]
    if len(sentences) <= 1 or audio is None:
        return [(text, audio)]
    # the audio split in proportion to each sentence's length, on sample boundaries
    total = sum(len(s) for s in sentences)
    out: list[tuple[str, PcmData | None]] = []
    start, frames = 0, audio.frames
    for i, sentence in enumerate(sentences):
        end = frames if i == len(sentences) - 1 else start + frames * len(sentence) // total
        piece = PcmData(np.ascontiguousarray(audio.samples[start:end]), audio.sample_rate, 1)
        out.append((sentence, piece if piece.frames else None))
        start = end
    return out


def plan(conn: NovaConnection, reply: ReplyStream) -> list[tuple[PcmData | None, list[str]]]:
    """The reply as steps, one audio chunk each, with where each sentence's blocks open and close."""
    plan_reply = reply.reply
    audio = plan_reply.audio if plan_reply.audio is not None and plan_reply.audio else None
    rate = conn.rules.output_rate
    if audio is not None and audio.sample_rate != rate:
        audio = audio.resample(rate, 1)
    segments = _segments(plan_reply.text, audio, conn.emulator.sentence_segments)
    steps: list[tuple[PcmData | None, list[str]]] = []
    marks: list[tuple[int, bool, bool]] = []
    for i, (text, pcm) in enumerate(segments):
        chunks = list(pcm.chunks(plan_reply.chunk_ms)) if pcm is not None else []
        if not chunks:
            steps.append((None, [text] if text else []))
            marks.append((i, True, True))
        for j, chunk in enumerate(chunks):
            steps.append((chunk, [text] if j == 0 and text else []))
            marks.append((i, j == 0, j == len(chunks) - 1))
    reply.extra.update(segments=[t for t, _ in segments], marks=marks, step=0, audio_block=None, finals=False)
    return steps


async def reply_step(conn: NovaConnection, reply: ReplyStream, audio: PcmData | None) -> None:
    """One step: SPECULATIVE text and the AUDIO block's start with a sentence's first chunk, its end (and,
    ``final_text="interleaved"``, the FINAL text) with its last."""
    emulator, extra = conn.emulator, reply.extra
    segment, first, last = extra["marks"][extra["step"]]
    extra["step"] += 1
    segments: list[str] = extra["segments"]
    text = segments[segment]
    stop = "END_TURN" if segment == len(segments) - 1 and not reply.reply.tool_calls else "PARTIAL_TURN"
    if first and text:
        await _text_block(conn, "ASSISTANT", "SPECULATIVE", text, "PARTIAL_TURN")
    if audio is not None:
        if first:
            extra["audio_block"] = str(uuid.uuid4())
            config: dict[str, Any] = {"mediaType": "audio/lpcm", "sampleRateHertz": audio.sample_rate,
                                      "sampleSizeBits": 16, "channelCount": 1, "encoding": "base64"}  # fmt: skip
            if emulator.output_audio_config == "full":
                config.update(voiceId=conn.rules.voice, audioType="SPEECH")
            await conn.event("contentStart", {"contentId": extra["audio_block"], "type": "AUDIO", "role": "ASSISTANT",
                                              "audioOutputConfiguration": config})  # fmt: skip
        body: dict[str, Any] = {"contentId": extra["audio_block"],
                                "content": base64.b64encode(memoryview(audio.samples)).decode()}  # fmt: skip
        if emulator.audio_output_role:
            body["role"] = "ASSISTANT"
        await conn.event("audioOutput", body)
        if reply.turn is not None:
            conn.out.spoken_ms[reply.turn.index] = conn.out.spoken_ms.get(reply.turn.index, 0.0) + audio.duration_ms
        if last:
            await conn.event("contentEnd", {"contentId": extra["audio_block"], "type": "AUDIO", "stopReason": stop})
            extra["audio_block"] = None
    if last and text and emulator.final_text == "interleaved":
        await _text_block(conn, "ASSISTANT", "FINAL", text, stop)


async def final_texts(conn: NovaConnection, reply: ReplyStream) -> None:
    """``final_text="after_audio"`` (the real service): every sentence's FINAL text after all the audio; the
    first ends ``END_TURN``, the others ``PARTIAL_TURN``."""
    extra = reply.extra
    if conn.emulator.final_text != "after_audio" or extra.get("finals") or "segments" not in extra:
        return
    extra["finals"] = True
    texts = [t for t in extra["segments"] if t]
    for i, text in enumerate(texts):
        await _text_block(conn, "ASSISTANT", "FINAL", text, "END_TURN" if i == 0 else "PARTIAL_TURN")


async def interrupted(conn: NovaConnection, reply: ReplyStream) -> None:
    """The user talked over the reply: its audio block ends INTERRUPTED, then the marker."""
    block = reply.extra.get("audio_block")
    if block is not None:
        reply.extra["audio_block"] = None
        await conn.event("contentEnd", {"contentId": block, "type": "AUDIO", "stopReason": "INTERRUPTED"})
    await interrupted_marker(conn, reply)


async def interrupted_marker(conn: NovaConnection, reply: ReplyStream) -> None:
    await _text_block(conn, "ASSISTANT", "FINAL", INTERRUPTED_MARKER, "INTERRUPTED")


async def tool_use(conn: NovaConnection, calls: Sequence[PlannedToolCall]) -> None:
    for call in calls:
        content_id = str(uuid.uuid4())
        arguments = json.dumps(call.arguments)
        if conn.emulator.double_encode_tool_arguments:
            arguments = json.dumps(arguments)
        conn.rules.issued_tool_ids.add(call.call_id)
        await conn.event("contentStart", {"contentId": content_id, "type": "TOOL", "role": "TOOL",
                                          "toolUseOutputConfiguration": {"mediaType": "application/json"}})  # fmt: skip
        await conn.event("toolUse", {"contentId": content_id, "toolName": call.name, "toolUseId": call.call_id,
                                     "content": arguments})  # fmt: skip
        await conn.event("contentEnd", {"contentId": content_id, "type": "TOOL", "stopReason": "TOOL_USE"})


async def usage(
    conn: NovaConnection, turn: PlannedTurn | None, *, input_only: bool = False, output_only: bool = False
) -> None:
    """A ``usageEvent`` with this turn's delta and the stream's running totals."""
    if turn is None:
        return
    words = max(1, round(len(turn.user_transcript) / 4))
    speech_in, text_in = (words, 0) if turn.trigger == "speech" else (0, words)
    speech_out = round(conn.out.spoken_ms.get(turn.index, 0.0) / 1000 * _TOKENS_PER_SECOND)
    text_out = round(len(turn.reply.text) / 4)
    delta = [[0, 0] if output_only else [speech_in, text_in], [0, 0] if input_only else [speech_out, text_out]]
    total = conn.out.usage_total
    for side in (0, 1):
        total[side][0] += delta[side][0]
        total[side][1] += delta[side][1]

    def shape(values: list[list[int]]) -> dict[str, Any]:
        return {side: {"speechTokens": v[0], "textTokens": v[1]} for side, v in zip(("input", "output"), values, strict=True)}

    total_in, total_out = sum(total[0]), sum(total[1])
    await conn.event("usageEvent", {"details": {"delta": shape(delta), "total": shape(total)},
                                    "totalInputTokens": total_in, "totalOutputTokens": total_out,
                                    "totalTokens": total_in + total_out})  # fmt: skip
