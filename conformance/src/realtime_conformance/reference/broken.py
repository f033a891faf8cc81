"""Deliberately broken variants of the reference provider, one bug each, and two honest ones.

The kit's own tests run the suite against every variant and check that it fails exactly the clauses the
variant names in ``BREAKS`` (a clause that cannot fail proves nothing), reports the ones in
``NOT_EXERCISED`` as not checked (never as passed), and passes the ones in ``PASSES``. Each class of bug
in docs/contract.md's history (issue 13) has at least one variant here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from realtime_core import (
    AuthenticationError,
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    InterruptInfo,
    PcmData,
    ProviderSpec,
    RealtimeAudioOutputDoneEvent,
    ReconnectContext,
    ToolResult,
    UnsupportedCapability,
    hookimpl,
)
from realtime_core.emulator import FRAMEWORK_FAULT_KINDS
from realtime_core.transport import WebSocketTransport

from . import protocol
from .emulator import ReferenceEmulator
from .errors import error_from_message
from .handler import ReferenceHandler
from .session import ReferenceRealtime

__all__ = ["HONEST", "VARIANTS", "realtime_register_providers"]


class Variant(ReferenceRealtime):
    """A variant of the reference provider and what the kit must report for it."""

    BREAKS: ClassVar[tuple[str, ...]] = ()
    """Clauses the kit must fail (or report as a stale declaration)."""
    NOT_EXERCISED: ClassVar[tuple[str, ...]] = ()
    """Clauses the kit must report as not exercised or not applicable: it cannot see them, so never "passed"."""
    PASSES: ClassVar[tuple[str, ...]] = ()
    """Clauses the kit must pass (the honest variants)."""
    MAY_BREAK: ClassVar[tuple[str, ...]] = ()
    """Clauses whose outcome depends on timing once this bug is there (left out of the exactness check)."""
    emulator_class: ClassVar[type[ReferenceEmulator]] = ReferenceEmulator


# ---------------------------------------------------------------------------------------------- audio lies
class WrongRate(Variant):
    """Declares 16 kHz output but labels its chunks 24 kHz (the rate the service sends)."""

    BREAKS = ("audio.output_format", "setup.configuration_sent")

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"output_sample_rate": 16000})


class RelabelsRate(Variant):
    """Declares 16 kHz output and labels its chunks 16 kHz, but the audio is the service's 24 kHz."""

    BREAKS = ("audio.output_duration_exact", "setup.configuration_sent", "interruption.truncate_within_received")

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"output_sample_rate": 16000})

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") == "audio.delta":
                pcm = PcmData.from_bytes(base64.b64decode(msg["audio"]), self.core.capabilities.output_sample_rate)
                self.core.emit_audio_output_event(pcm, str(msg["response_id"]))
                return
            super().handle(msg)


class HoldsBackAudio(Variant):
    """Holds each output chunk until the next one arrives, and announces the reply's end before the last."""

    BREAKS = ("audio.output_duration_exact", "audio.done_after_all_audio")

    class handler_class(ReferenceHandler):
        def __init__(self, core: Any) -> None:
            super().__init__(core)
            self.held: dict[str, PcmData] = {}

        def handle(self, msg: dict[str, Any]) -> None:
            rid = str(msg.get("response_id", ""))
            if msg.get("type") == "audio.delta":
                pcm = PcmData.from_bytes(base64.b64decode(msg["audio"]), protocol.OUTPUT_RATE)
                previous, self.held[rid] = self.held.get(rid), pcm
                if previous is not None:
                    self.core.emit_audio_output_event(previous, rid)
                return
            super().handle(msg)
            if msg.get("type") == "response.done" and rid in self.held:
                self.core.emit_audio_output_event(self.held.pop(rid), rid)  # too late: after the done event


class WrongInputRate(Variant):
    """Declares a 24 kHz input rate; the service takes 16 kHz."""

    BREAKS = ("audio.input_received_exactly", "setup.configuration_sent")

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"input_sample_rate": 24000})


# ---------------------------------------------------------------------------------------------- setup
class ForgetsInstructions(Variant):
    """Never sends the instructions."""

    BREAKS = ("setup.instructions_sent",)

    def session_config(self) -> dict[str, Any]:
        config = super().session_config()
        del config["instructions"]
        return config


class NamesToolsOnly(Variant):
    """Sends the tools' names without their descriptions and parameter schemas."""

    BREAKS = ("setup.tools_sent",)

    def session_config(self) -> dict[str, Any]:
        return {**super().session_config(), "tools": [{"name": t["name"]} for t in self.tools.schemas()]}


class SparseSessionUpdate(Variant):
    """Leaves turn detection out of the session update."""

    BREAKS = ("setup.configuration_sent",)

    def session_config(self) -> dict[str, Any]:
        config = super().session_config()
        del config["turn_detection"]
        return config


class ReportsSetupErrorAsEvent(Variant):
    """An error during setup becomes an error event (before the connected event) and connect() succeeds."""

    BREAKS = ("setup.error_during_setup",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") == "error" and not self.ready.done():
                self.core.emit_error_event(error_from_message(msg), context="setup")
                return
            super().handle(msg)


class SetupErrorsAreConfig(Variant):
    """Any error during setup, even a transient server error, fails connect() with a ConfigurationError."""

    BREAKS = ("setup.error_during_setup",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") == "error" and not self.ready.done():
                self.ready.set_exception(ConfigurationError(str(msg.get("message")), provider="reference"))
                return
            super().handle(msg)


# ---------------------------------------------------------------------------------------------- tools
class DropsToolResults(Variant):
    """Runs tools but never sends their results (it only asks for the continuation)."""

    BREAKS = ("tools.result_under_call_id", "tools.parallel_calls", "tools.raising_tool", "tools.slow_tool")

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        await self._send(protocol.message("response.create"))


class AnswersWrongCall(Variant):
    """Sends each result under the tool's name instead of the call's id."""

    BREAKS = ("tools.result_under_call_id",)

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        for result in results:
            await self._send(protocol.message("tool.output", call_id=result.name, output=result.as_json()))
        await self._send(protocol.message("response.create"))


# ---------------------------------------------------------------------------------------------- interruption
class LeaksStaleAudio(Variant):
    """Relabels audio that arrives late for a cancelled response, so core cannot recognise it as stale."""

    BREAKS = ("interruption.no_stale_output",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            rid = msg.get("response_id")
            if msg.get("type") in ("audio.delta", "response.done") and rid and self.core.is_stale(str(rid)):
                msg = {**msg, "response_id": f"{rid}-late"}
            super().handle(msg)


class TruncatesPastTheEnd(Variant):
    """Truncates 5 s past the audio received."""

    BREAKS = ("interruption.truncate_within_received", "interruption.truncate_at_reported_playback",
              "interruption.provider_told", "interruption.interrupts_coalesced")  # fmt: skip

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        if info.response_id is None or info.source != "local":
            return
        await self._send(protocol.message("response.cancel", response_id=info.response_id))
        end = int((info.received_ms or 0) + 5000)
        await self._send(protocol.message("response.truncate", response_id=info.response_id, audio_end_ms=end))


class TruncatesAtReceived(Variant):
    """Truncates at what was received, ignoring the playback the app reported."""

    BREAKS = ("interruption.truncate_at_reported_playback",)

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        if info.response_id is None or info.source != "local":
            return
        if info.generating:
            await self._send(protocol.message("response.cancel", response_id=info.response_id))
        await self._send(
            protocol.message("response.truncate", response_id=info.response_id, audio_end_ms=int(info.received_ms or 0))
        )


class NeverCancels(Variant):
    """Tells the provider nothing when the app interrupts."""

    BREAKS = ("interruption.provider_told", "interruption.truncate_within_received",
              "interruption.truncate_at_reported_playback")  # fmt: skip

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        return


class BlindEmulator(ReferenceEmulator):
    """The reference emulator, declaring that it cannot see cancels and truncations."""

    observes = ReferenceEmulator.observes - {"cancel", "truncate"}


class NeverCancelsUnobserved(NeverCancels):
    """The same bug, against an emulator that cannot see it: the kit must say so, never pass."""

    BREAKS = ()
    NOT_EXERCISED = ("interruption.provider_told", "interruption.truncate_within_received",
                     "interruption.truncate_at_reported_playback")  # fmt: skip
    emulator_class = BlindEmulator


# ---------------------------------------------------------------------------------------------- events
class MixesResponseIds(Variant):
    """Gives every audio chunk its own response id."""

    BREAKS = ("audio.one_response_id", "audio.one_done_after_last_chunk", "audio.done_after_all_audio",
              "audio.output_duration_exact", "audio.agent_speech_events", "audio.time_to_first_audio",
              "inputs.text_while_speaking", "interruption.no_stale_output", "interruption.provider_told",
              "interruption.interrupts_coalesced",
              "interruption.truncate_within_received", "interruption.truncate_at_reported_playback",
              "lifecycle.sessions_independent")  # fmt: skip
    MAY_BREAK = ("interruption.server_barge_in",)  # which of the many "responses" the barge-in cuts is a race

    class handler_class(ReferenceHandler):
        _n = 0

        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") == "audio.delta":
                self._n += 1
                msg = {**msg, "response_id": f"{msg['response_id']}-{self._n}"}
            super().handle(msg)


class DoubleDone(Variant):
    """Emits a second audio-done event for every response, bypassing core's bookkeeping."""

    BREAKS = ("audio.one_done_after_last_chunk", "interruption.no_stale_output", "tools.parallel_calls")

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            super().handle(msg)
            if msg.get("type") == "response.done":
                emitter = self.core._emitter  # pyright: ignore[reportPrivateUsage]
                emitter.dispatcher.emit(
                    RealtimeAudioOutputDoneEvent.model_construct(**emitter.stamp(), response_id=str(msg["response_id"]))
                )


class SwallowsErrors(Variant):
    """Ignores error messages from the server."""

    BREAKS = ("errors.server_error_event", "errors.typed_errors", "errors.no_secrets", "setup.error_during_setup")

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") != "error":
                super().handle(msg)


class UnderDeclares(Variant):
    """Says it has no user transcripts, but emits them."""

    BREAKS = ("transcripts.user_final_once",)

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"user_transcript": "none"})


class RepeatsUserFinal(Variant):
    """Delivers every final user transcript twice (as a service that sends it per segment and at the end)."""

    BREAKS = ("transcripts.user_final_once",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            super().handle(msg)
            if msg.get("type") == "transcript.user":
                super().handle(msg)


class TranscriptsWithoutIds(Variant):
    """Emits agent transcripts without the reply's response id."""

    BREAKS = ("transcripts.agent_response_id",)

    class handler_class(ReferenceHandler):
        def handle(self, msg: dict[str, Any]) -> None:
            kind = msg.get("type")
            if kind in ("transcript.delta", "transcript.done"):
                mode = "delta" if kind == "transcript.delta" else "final"
                self.core.emit_agent_speech_transcription(msg["text"], mode=mode)
                return
            super().handle(msg)


class SumsUsage(Variant):
    """Reports usage as running totals of the session."""

    BREAKS = ("audio.usage",)

    class handler_class(ReferenceHandler):
        totals: ClassVar[dict[int, dict[str, int]]] = {}  # per session (its SessionCore)

        def handle(self, msg: dict[str, Any]) -> None:
            if msg.get("type") == "response.done" and msg.get("usage"):
                totals = type(self).totals.setdefault(id(self.core), {})
                for key, value in msg["usage"].items():
                    totals[key] = totals.get(key, 0) + int(value)
                msg = {**msg, "usage": dict(totals)}
            super().handle(msg)


class TextInterrupts(Variant):
    """Interrupts the agent before sending user text."""

    BREAKS = ("inputs.text_while_speaking",)

    async def simple_response(self, text: str) -> None:
        if self.responding:
            await self.interrupt()
        await super().simple_response(text)


# ---------------------------------------------------------------------------------------------- lifecycle
class ForgetsDisconnected(Variant):
    """Suppresses the disconnected event on close."""

    BREAKS = ("lifecycle.close_clean_once", "lifecycle.close_idempotent", "lifecycle.context_manager")

    async def close(self) -> None:
        self._lifecycle.disconnected_announced = True  # pyright: ignore[reportPrivateUsage]
        await super().close()


class LeaksHeartbeat(Variant):
    """Starts a heartbeat task of its own (not through the session) and never stops it."""

    BREAKS = ("lifecycle.no_plugin_tasks_left",)

    async def connect(self) -> None:
        await super().connect()
        asyncio.get_running_loop().create_task(self._beat(), name="reference-heartbeat")

    async def _beat(self) -> None:
        while True:  # noqa: ASYNC110  (a heartbeat; the bug is that nobody owns the task)
            await asyncio.sleep(0.5)


class ClosesWithoutTelling(Variant):
    """Closes the socket without the protocol's closing message."""

    BREAKS = ("lifecycle.provider_told_on_close",)

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()


class LeavesSocketOpen(Variant):
    """Sends the closing message but never closes the socket."""

    BREAKS = ("lifecycle.provider_told_on_close", "liveness.close_during_setup")

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None and transport.is_open:
            await transport.send_text(protocol.message("session.close"))
        self._kept = transport  # still referenced, so still open


class KeepsOldConnection(Variant):
    """A renewal opens the new connection and never closes the old one."""

    BREAKS = ("errors.old_connection_closed",)

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        transport = await self._open()
        items = [{"role": h.role, "text": h.text} for h in ctx.history if h.kind == "message" and h.text]
        if items:
            await transport.send_text(protocol.message("history.replay", items=items))
        return bool(items)


class LiesAboutRestore(Variant):
    """Reconnects without replaying the conversation but reports state_restored=True."""

    BREAKS = ("errors.state_restored_truthful",)

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        old = self._transport
        await self._open()
        if old is not None:
            await old.close()
        return True


class AdoptsServerId(Variant):
    """Replaces session_id with the service's own session id once connected."""

    BREAKS = ("lifecycle.session_id_stable", "lifecycle.properties", "lifecycle.sessions_independent",
              "observers.sees_everything")  # fmt: skip

    async def connect(self) -> None:
        await super().connect()
        self._server_id = f"sess_{uuid.uuid4().hex[:12]}"

    @property
    def session_id(self) -> str:
        return getattr(self, "_server_id", None) or super().session_id


class SharesHandler(Variant):
    """Routes every connection's messages to the newest handler (module-level state shared by sessions)."""

    BREAKS = ("lifecycle.sessions_independent",)

    class handler_class(ReferenceHandler):
        newest: ClassVar[ReferenceHandler | None] = None

        def __init__(self, core: Any) -> None:
            super().__init__(core)
            type(self).newest = self

        def handle(self, msg: dict[str, Any]) -> None:
            ReferenceHandler.handle(type(self).newest or self, msg)


class ShieldsConnect(Variant):
    """Shields opening the connection from cancellation, so close() during connect() cannot stop it."""

    BREAKS = ("liveness.close_while_opening",)

    async def connect(self) -> None:
        opening = asyncio.ensure_future(self._open())
        await asyncio.shield(opening)
        self._emit_connected_event(self.session_config(), self.capabilities)


# ---------------------------------------------------------------------------------------------- errors
class MasksAuthError(Variant):
    """Turns a rejected key into a (retryable) connection failure."""

    BREAKS = ("errors.wrong_key",)

    async def connect(self) -> None:
        try:
            await super().connect()
        except AuthenticationError as exc:
            raise ConnectionFailedError(f"could not connect: {exc.message}", provider="reference") from None


class LogsKey(Variant):
    """Logs the key at DEBUG level in its own logger."""

    BREAKS = ("errors.no_secrets",)

    async def connect(self) -> None:
        key = self._api_key.get_secret_value() if self._api_key is not None else ""
        logging.getLogger("realtime_reference.debug").debug("connecting to %s with key %s", self.url, key)
        await super().connect()


# ---------------------------------------------------------------------------------------------- the loop, liveness
class SleepsOnAudio(Variant):
    """Paces its audio with a synchronous sleep (blocking the event loop)."""

    BREAKS = ("audio.loop_not_blocked",)

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        time.sleep(pcm.duration_ms / 2000)  # noqa: ASYNC251  (the bug this variant has)
        await super().simple_audio_response(pcm, participant=participant)


class DisablesKeepalive(Variant):
    """Opens its socket with a keepalive of an hour: a dead path goes unnoticed."""

    BREAKS = ("liveness.dead_path_detected",)

    async def _open(self) -> WebSocketTransport:
        assert self._api_key is not None
        transport = WebSocketTransport(self._core, liveness_timeout=3600)
        await transport.open(
            self.url,
            headers={"Authorization": f"Bearer {self._api_key.get_secret_value()}"},
            ca_file=self.ca_file,
            open_timeout=self._core.connect_timeout,
        )
        self._transport = transport
        handler = self.handler_class(self._core)
        transport.start(handler.handle)
        await transport.send_text(protocol.message("session.update", session=self.session_config()))
        await transport.wait(handler.ready)
        return transport


# ---------------------------------------------------------------------------------------------- honest variants
class NoReconnection(Variant):
    """Honestly declares that it cannot reconnect: the kit must pass it on a dropped connection."""

    PASSES = ("errors.dropped_connection", "lifecycle.session_id_stable")

    def _build_capabilities(self) -> Capabilities:
        return super()._build_capabilities().model_copy(update={"reconnection": False, "session_resumption": False})

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        raise UnsupportedCapability("reconnection", "this provider cannot reconnect", provider=self.provider_name)


class NoLimitEmulator(ReferenceEmulator):
    """The reference emulator of a protocol without a session limit."""

    fault_kinds = FRAMEWORK_FAULT_KINDS


class NoSessionLimit(Variant):
    """Declares reconnection for a protocol that has no session limit: no expiry may be forced on it."""

    PASSES = ("errors.dropped_connection", "errors.state_restored_truthful")
    NOT_EXERCISED = ("errors.session_limit_renewal", "errors.old_connection_closed")
    emulator_class = NoLimitEmulator


VARIANTS: dict[str, type[Variant]] = {
    "broken-rate": WrongRate,
    "broken-rate-label": RelabelsRate,
    "broken-held-back": HoldsBackAudio,
    "broken-input-rate": WrongInputRate,
    "broken-instructions": ForgetsInstructions,
    "broken-tool-schemas": NamesToolsOnly,
    "broken-config-fields": SparseSessionUpdate,
    "broken-setup-event": ReportsSetupErrorAsEvent,
    "broken-setup-config": SetupErrorsAreConfig,
    "broken-tools": DropsToolResults,
    "broken-call-id": AnswersWrongCall,
    "broken-leak": LeaksStaleAudio,
    "broken-truncate": TruncatesPastTheEnd,
    "broken-heard": TruncatesAtReceived,
    "broken-no-cancel": NeverCancels,
    "broken-no-cancel-unobserved": NeverCancelsUnobserved,
    "broken-ids": MixesResponseIds,
    "broken-done": DoubleDone,
    "broken-errors": SwallowsErrors,
    "broken-declaration": UnderDeclares,
    "broken-double-final": RepeatsUserFinal,
    "broken-transcript-ids": TranscriptsWithoutIds,
    "broken-usage-totals": SumsUsage,
    "broken-text-cuts": TextInterrupts,
    "broken-disconnect": ForgetsDisconnected,
    "broken-task-leak": LeaksHeartbeat,
    "broken-close-silent": ClosesWithoutTelling,
    "broken-close-open": LeavesSocketOpen,
    "broken-renewal-leak": KeepsOldConnection,
    "broken-restore": LiesAboutRestore,
    "broken-session-id": AdoptsServerId,
    "broken-shared-state": SharesHandler,
    "broken-connect-shield": ShieldsConnect,
    "broken-auth-error": MasksAuthError,
    "broken-secret-log": LogsKey,
    "broken-blocking": SleepsOnAudio,
    "broken-no-keepalive": DisablesKeepalive,
}
"""The broken variants, by the provider name each registers as."""

HONEST: dict[str, type[Variant]] = {
    "honest-no-reconnect": NoReconnection,
    "honest-no-session-limit": NoSessionLimit,
}
"""Variants that are right, with what the kit must pass (or leave unexercised) for them."""


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    for name, cls in {**VARIANTS, **HONEST}.items():
        session_class = type(cls.__name__, (cls,), {"provider_name": name, "__doc__": cls.__doc__})
        register(ProviderSpec(name=name, session_class=session_class, emulator=cls.emulator_class, description=cls.__doc__ or ""))
