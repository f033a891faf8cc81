"""Deliberately broken variants of the reference provider, one bug each.

The kit's own tests run the suite against every variant and check that it fails for the right clause: a
clause that cannot fail proves nothing. Each variant names the clause(s) it must break in ``BREAKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from realtime_core import (
    Capabilities,
    InterruptInfo,
    ProviderSpec,
    RealtimeAudioOutputDoneEvent,
    ReconnectContext,
    ToolResult,
    hookimpl,
)

from . import protocol
from .emulator import ReferenceEmulator
from .handler import ReferenceHandler
from .session import ReferenceRealtime

__all__ = ["VARIANTS", "realtime_register_providers"]


class LeaksStaleAudio(ReferenceRealtime):
    """Relabels audio that arrives late for a cancelled response, so core cannot recognise it as stale."""

    BREAKS: ClassVar[tuple[str, ...]] = ("interruption.no_stale_output",)
    _cut: ClassVar[set[str]] = set()

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        if info.response_id:
            self._cut.add(info.response_id)
        await super()._on_interrupt(info)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") in ("audio.delta", "response.done") and msg.get("response_id") in LeaksStaleAudio._cut:
                msg = {**msg, "response_id": f"{msg['response_id']}-late"}
            super().handle(msg)


class MixesResponseIds(ReferenceRealtime):
    """Gives every audio chunk its own response id."""

    BREAKS: ClassVar[tuple[str, ...]] = ("audio.one_response_id",)
    class handler_class(ReferenceHandler):
        _n = 0

        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") == "audio.delta":
                self._n += 1
                msg = {**msg, "response_id": f"{msg['response_id']}-{self._n}"}
            super().handle(msg)


class DoubleDone(ReferenceRealtime):
    """Emits a second audio-done event for every response, bypassing core's bookkeeping."""

    BREAKS: ClassVar[tuple[str, ...]] = ("audio.one_done_after_last_chunk",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            super().handle(msg)
            if msg.get("type") == "response.done":
                emitter = self.core._emitter  # pyright: ignore[reportPrivateUsage]
                emitter.dispatcher.emit(
                    RealtimeAudioOutputDoneEvent.model_construct(**emitter.stamp(), response_id=str(msg["response_id"]))
                )


class ForgetsDisconnected(ReferenceRealtime):
    """Suppresses the disconnected event on close."""

    BREAKS: ClassVar[tuple[str, ...]] = ("lifecycle.close_clean_once",)

    async def close(self) -> None:
        self._lifecycle.disconnected_announced = True  # pyright: ignore[reportPrivateUsage]
        await super().close()


class SwallowsErrors(ReferenceRealtime):
    """Ignores error messages from the server."""

    BREAKS: ClassVar[tuple[str, ...]] = ("errors.server_error_event",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") != "error":
                super().handle(msg)


class UnderDeclares(ReferenceRealtime):
    """Says it has no user transcripts, but emits them."""

    BREAKS: ClassVar[tuple[str, ...]] = ("transcripts.user_transcript",)

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"user_transcript": "none"})


class WrongRate(ReferenceRealtime):
    """Declares 16 kHz output but delivers 24 kHz."""

    BREAKS: ClassVar[tuple[str, ...]] = ("audio.output_format",)

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"output_sample_rate": 16000})


class LiesAboutRestore(ReferenceRealtime):
    """Reconnects without replaying the conversation but reports state_restored=True."""

    BREAKS: ClassVar[tuple[str, ...]] = ("errors.dropped_connection",)

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        old = self._transport
        await self._open()
        if old is not None:
            await old.close()
        return True


class DropsToolResults(ReferenceRealtime):
    """Runs tools but never sends their results."""

    BREAKS: ClassVar[tuple[str, ...]] = ("tools.call_runs_and_reply_continues",)

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        await self._send(protocol.message("response.create"))


class TruncatesPastTheEnd(ReferenceRealtime):
    """Truncates at the wall-clock time, ignoring how much audio actually arrived."""

    BREAKS: ClassVar[tuple[str, ...]] = ("interruption.truncate_within_received",)

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        if info.response_id is None:
            return
        await self._send(protocol.message("response.cancel", response_id=info.response_id))
        end = int((info.received_ms or 0) + 5000)
        await self._send(protocol.message("response.truncate", response_id=info.response_id, audio_end_ms=end))


VARIANTS: dict[str, type[ReferenceRealtime]] = {
    "broken-leak": LeaksStaleAudio,
    "broken-ids": MixesResponseIds,
    "broken-done": DoubleDone,
    "broken-disconnect": ForgetsDisconnected,
    "broken-errors": SwallowsErrors,
    "broken-declaration": UnderDeclares,
    "broken-rate": WrongRate,
    "broken-restore": LiesAboutRestore,
    "broken-tools": DropsToolResults,
    "broken-truncate": TruncatesPastTheEnd,
}


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    for name, cls in VARIANTS.items():
        register(ProviderSpec(name=name, session_class=cls, emulator=ReferenceEmulator, description=cls.__doc__ or ""))
