"""Per-stream state: one Bedrock stream (a "link") and the reply it is giving."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field

from realtime_core import ToolCall

from . import protocol
from .client import NovaStream

__all__ = ["Block", "Link", "join_piece", "joined", "outcome"]


@dataclass
class Block:
    type: str
    role: str
    stage: str | None


@dataclass(eq=False)
class Link:
    """One Bedrock stream and what the session knows about it."""

    stream: NovaStream
    prompt_name: str
    audio_content: str
    encoder: protocol.AudioEventEncoder
    opened_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ending: bool = False  # contentEnd/promptEnd/sessionEnd sent or being sent: no more input
    dead: bool = False  # the receive side ended
    retired: bool = False  # replaced by a newer stream
    receiver: asyncio.Task[None] | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while no response is in progress
    silence: bytes = b""
    # output state of the response in progress on this stream
    rid: str | None = None
    last_rid: str | None = None
    blocks: dict[str, Block] = field(default_factory=dict)
    spoken: list[str] = field(default_factory=list)  # SPECULATIVE texts (streamed as deltas)
    final: list[str] = field(default_factory=list)  # FINAL texts (what was actually said)
    audio_ended: bool = False
    barged: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    tools_ready: bool = False
    issued_tools: set[str] = field(default_factory=set)
    usage_totals: tuple[int, int, int, int] | None = None


def join_piece(pieces: list[str], piece: str) -> str:
    """``piece`` as it continues ``pieces`` (a space between sentences that carry none)."""
    if pieces and piece and not pieces[-1][-1:].isspace() and not piece[:1].isspace():
        return " " + piece
    return piece


def joined(pieces: list[str]) -> str:
    out: list[str] = []
    for piece in pieces:
        out.append(join_piece(out, piece))
    return "".join(out)


async def outcome[T](awaitable: Awaitable[T]) -> tuple[T | None, BaseException | None]:
    """Run ``awaitable`` in a session task and hand its error back as a value (core reports exceptions
    that escape owned tasks as error events; these are handled by whoever awaits the task)."""
    try:
        return await awaitable, None
    except Exception as exc:
        return None, exc
