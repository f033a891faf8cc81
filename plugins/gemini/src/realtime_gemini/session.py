"""The Gemini Live session: :class:`GeminiRealtime`."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

from realtime_core import (
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    InterruptInfo,
    PcmData,
    ProviderError,
    Realtime,
    RealtimeError,
    ReconnectContext,
    SecretStr,
    SessionState,
    ToolResult,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.errors import redact

from . import protocol
from .capabilities import build_capabilities
from .endpoints import require_credentials, resolve_endpoint
from .errors import classify_close, is_session_not_found
from .handler import GeminiHandler
from .models import DEFAULT_MODEL
from .options import (
    ActivityDetection,
    ContextWindowCompression,
    GeminiOptions,
    InputTranscription,
    VertexAI,
    build_options,
)
from .resumption import ResumptionState
from .text_hold import TextHold
from .transport import GeminiTransport

__all__ = ["API_KEY_ENV", "GeminiRealtime"]

log = logging.getLogger("realtime_gemini")

API_KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


class GeminiRealtime(Realtime):
    """A Gemini Live session (``BidiGenerateContent`` over WebSocket).

    Credentials, one of:

    :param api_key: a Gemini Developer API key (default: ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``), sent as
        the ``x-goog-api-key`` header.
    :param ephemeral_token: an ephemeral token (``auth_tokens/...``) made by your backend; uses the v1alpha
        constrained endpoint with an ``Authorization: Token`` header.
    :param auth_in: ``"header"`` (default) or ``"query"``: send the key as ``?key=`` and a token as
        ``?access_token=`` (the documented URL forms) instead of headers.
    :param vertex: a :class:`~realtime_gemini.VertexAI` to connect through Vertex AI with a bearer token.

    Where:

    :param model: a Live model (default ``gemini-3.8-live``; see ``realtime_gemini.MODELS``); ``models/<id>``
        passes an id this plugin does not know to the server as it is.
    :param api_version: ``"v1beta"`` (default) or ``"v1alpha"`` for the Developer API.
    :param base_url: replace ``wss://generativelanguage.googleapis.com`` (an emulator, a proxy).
    :param ca_file: a CA bundle to trust in addition to the system's (an emulator's private CA).

    What the model does (each model takes only some of these: see its profile):

    :param response_modality: ``"audio"`` (spoken replies) or ``"text"``; default: what the model offers.
    :param voice: a prebuilt voice such as ``"Kore"`` (case-sensitive; ``realtime_gemini.VOICES``).
    :param language_code: e.g. ``"en-US"`` (native-audio models pick the language themselves).
    :param media_resolution: ``"low"``, ``"medium"`` or ``"high"`` token cost per video frame.
    :param temperature: sampling temperature.
    :param top_p: nucleus sampling.
    :param top_k: top-k sampling.
    :param max_output_tokens: the reply length cap.
    :param seed: sampling seed.
    :param thinking_budget: 2.5 models: thinking tokens (0 turns thinking off).
    :param thinking_level: 3.1 and extended-thinking models (extended thinking requires one; default ``"low"``).
    :param include_thoughts: ask for thought summaries (never spoken, never emitted as response text).
    :param affective_dialog: 2.5 native-audio models (v1alpha, chosen automatically).
    :param proactive_audio: 2.5 native-audio models; always on for 3.8 models (False is refused).
    :param tool_behavior: ``"blocking"`` or ``"non_blocking"`` function calls, where the model offers a choice
        (default: the model's; 3.8 declares blocking, extended thinking takes non-blocking only).

    Turn taking and input:

    :param manual_activity: turn server VAD off; mark turns with :meth:`begin_user_turn` /
        :meth:`end_user_turn` (``activityStart`` / ``activityEnd``).
    :param activity_detection: server VAD tuning (:class:`~realtime_gemini.ActivityDetection`).
    :param activity_handling: ``"interrupt"`` (barge-in, the server default) or ``"no_interruption"``.
    :param turn_coverage: what input a user turn includes (``"only_activity"``, ``"all_input"``...).
    :param input_transcription: transcribe the user (default True), or an
        :class:`~realtime_gemini.InputTranscription` with languages, vocabulary and mode.
    :param output_transcription: transcribe spoken replies (default True for audio).
    :param text_input: how :meth:`simple_response` sends text: ``"realtime_input"`` (Developer API default),
        ``"client_content"`` (Vertex default; not on 3.1, which takes it only to seed the history).
    :param tool_schema: declare tool parameters as ``"parameters"`` (OpenAPI subset) or ``"json_schema"``
        (``parametersJsonSchema``); ``"auto"`` follows the model.
    :param audio_stream_end_after: seconds without input audio after which ``audioStreamEnd`` tells the
        server VAD that the microphone paused (None: never).

    Session limits:

    :param session_resumption: ask for resumption handles and resume with the latest one after a goAway or
        a dropped connection, so the conversation survives (default True).
    :param context_window_compression: a :class:`~realtime_gemini.ContextWindowCompression` to lift the
        session length limits.
    :param resume_replay_ms: input audio kept since the latest handle and replayed after resuming.
    :param make_before_break: on goAway open the resumed connection before closing the old one.
    :param go_away_margin: seconds before the goAway deadline at which the switch happens even mid-reply.
    :param extra_setup: raw ``setup`` fields merged in last (camelCase), for features without an option.

    Core options (``instructions``, ``tools``, ``fps``, ``reconnect``, timeouts...) are those of
    :class:`realtime_core.Realtime`.
    """

    provider_name = "gemini"

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        model: str = DEFAULT_MODEL,
        ephemeral_token: str | SecretStr | None = None,
        auth_in: Literal["header", "query"] = "header",
        vertex: VertexAI | None = None,
        api_version: Literal["v1beta", "v1alpha"] | None = None,
        base_url: str | None = None,
        ca_file: str | None = None,
        response_modality: Literal["audio", "text"] | None = None,
        voice: str | None = None,
        language_code: str | None = None,
        media_resolution: Literal["low", "medium", "high"] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        max_output_tokens: int | None = None,
        seed: int | None = None,
        thinking_budget: int | None = None,
        thinking_level: Literal["minimal", "low", "medium", "high"] | None = None,
        include_thoughts: bool | None = None,
        affective_dialog: bool | None = None,
        proactive_audio: bool | None = None,
        tool_behavior: Literal["blocking", "non_blocking"] | None = None,
        manual_activity: bool = False,
        activity_detection: ActivityDetection | None = None,
        activity_handling: Literal["interrupt", "no_interruption"] | None = None,
        turn_coverage: Literal["only_activity", "all_input", "audio_activity_and_all_video"] | None = None,
        input_transcription: bool | InputTranscription = True,
        output_transcription: bool | None = None,
        session_resumption: bool = True,
        context_window_compression: ContextWindowCompression | None = None,
        tool_schema: Literal["auto", "parameters", "json_schema"] = "auto",
        text_input: Literal["auto", "realtime_input", "client_content"] = "auto",
        audio_stream_end_after: float | None = 1.0,
        resume_replay_ms: float = 10_000.0,
        make_before_break: bool = True,
        go_away_margin: float = 2.0,
        extra_setup: Mapping[str, Any] | None = None,
        **core_options: Any,
    ) -> None:
        super().__init__(**core_options)
        key = resolve_api_key(api_key, API_KEY_ENV, provider="gemini", required=False)
        token = resolve_api_key(ephemeral_token, (), provider="gemini", required=False)
        self._options: GeminiOptions = build_options(
            model=model, api_key=key, ephemeral_token=token, auth_in=auth_in, vertex=vertex,
            api_version=api_version if api_version is not None else ("v1alpha" if token is not None else None),
            base_url=base_url, ca_file=ca_file, response_modality=response_modality, voice=voice,
            language_code=language_code, media_resolution=media_resolution, temperature=temperature, top_p=top_p,
            top_k=top_k, max_output_tokens=max_output_tokens, seed=seed, thinking_budget=thinking_budget,
            thinking_level=thinking_level, include_thoughts=include_thoughts, affective_dialog=affective_dialog,
            proactive_audio=proactive_audio, tool_behavior=tool_behavior, manual_activity=manual_activity,
            activity_detection=activity_detection or ActivityDetection(), activity_handling=activity_handling,
            turn_coverage=turn_coverage, input_transcription=input_transcription,
            output_transcription=output_transcription, session_resumption=session_resumption,
            context_window_compression=context_window_compression, tool_schema=tool_schema, text_input=text_input,
            audio_stream_end_after=audio_stream_end_after, resume_replay_ms=resume_replay_ms,
            make_before_break=make_before_break, go_away_margin=go_away_margin, extra_setup=dict(extra_setup or {}),
        )  # fmt: skip
        require_credentials(self._options)
        self._transport: GeminiTransport | None = None
        self._handler: GeminiHandler | None = None
        self._opening: set[GeminiTransport] = set()  # connections being set up (close() releases them too)
        self._api: tuple[str, str] | None = None  # (api, version) of the current connection
        self._response_ids = itertools.count(1)
        self._resumption = ResumptionState(self._options.resume_replay_ms if session_resumption else 0.0)
        self._activity_open = False  # a manual user turn is open
        self._activity_audio = False
        self._last_audio_at = 0.0
        self._audio_flowing: asyncio.Event | None = None
        self._held_texts = TextHold(self._core, self._send_text, self._connected_handler)

    # ================================================================== what it is
    @property
    def options(self) -> GeminiOptions:
        """The validated options (keys held as ``SecretStr``)."""
        return self._options

    @property
    def model(self) -> str:
        return self._options.model

    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(self._options)

    @property
    def resumption_handle_available(self) -> bool:
        """Whether a resumable handle has been received (the next reconnect can restore the session)."""
        return self._resumption.has_handle

    # ------------------------------------------------------------------ GeminiHost (for the handler)
    def new_response_id(self) -> str:
        return f"{self.session_id[:8]}-{next(self._response_ids)}"

    def audio_confirmed(self) -> None:
        self._resumption.confirmed()
        self._core.audio_confirmed()

    def resumption_handle(self, handle: str) -> None:
        self._resumption.update(handle)
        self._core.audio_confirmed()

    def turn_ended(self) -> None:
        self._held_texts.turn_ended()

    # ================================================================== connection
    async def connect(self) -> None:
        transport, handler = await self._open(None)
        self._install(transport, handler)
        opts = self._options
        if opts.audio_stream_end_after is not None and not opts.manual_activity and opts.vertex is None:
            self._audio_flowing = asyncio.Event()
            self._core.spawn(self._watch_input_pause(opts.audio_stream_end_after), name="gemini-input-pause")
        self._emit_connected_event(self._summary(), self.capabilities)

    def _summary(self) -> dict[str, Any]:
        opts = self._options
        api, version = self._api or (None, None)
        return {
            "model": opts.model,
            "api": api,
            "api_version": version,
            "response_modality": opts.modality,
            "voice": opts.voice,
            "manual_activity": opts.manual_activity,
            "session_resumption": opts.session_resumption,
            "input_transcription": opts.wants_input_transcription,
            "output_transcription": opts.wants_output_transcription,
            "tools": [t.name for t in self.tools],
        }

    async def _open(self, handle: str | None) -> tuple[GeminiTransport, GeminiHandler]:
        """Open a connection, send ``setup`` and wait for ``setupComplete``.

        Cancellation-safe: the half-open connection is in ``_opening`` from its first moment, so ``close()``
        releases it even while this waits.

        :raises RealtimeError: typed per the server's close code and reason when it refuses the setup.
        """
        endpoint = await resolve_endpoint(self._options)
        transport = GeminiTransport(self._core, classify=self._classify_close)
        handler = GeminiHandler(self._core, self)
        self._opening.add(transport)
        try:
            await transport.open(
                endpoint, ca_file=self._options.ca_file, open_timeout=self._core.connect_timeout, handler=handler.handle
            )
            setup = protocol.build_setup(self._options, instructions=self.instructions, tools=self.tools, handle=handle)
            await transport.send_json(setup)
            await transport.wait(handler.ready)
        except BaseException:
            await asyncio.shield(transport.close())
            raise
        finally:
            self._opening.discard(transport)
        self._api = (endpoint.api, endpoint.version)
        return transport, handler

    def _install(self, transport: GeminiTransport, handler: GeminiHandler) -> None:
        old = self._handler
        if old is not None:
            old.detach()
        self._transport = transport
        self._handler = handler

    def _classify_close(self, code: int | None, reason: str) -> RealtimeError:
        error = classify_close(code, redact(reason))
        # Gemini reports errors only as close frames. Core reports a fatal one itself; a recoverable one
        # with a reason is still the provider telling us something went wrong, so surface it too.
        if (
            reason
            and error.recoverable
            and self.state is SessionState.CONNECTED
            and self._core.reconnect_policy.max_attempts > 0
        ):
            self._emit_error_event(error, context="server closed the connection")
        return error

    async def close(self) -> None:
        if self.state is SessionState.CLOSING:
            self._held_texts.report_unsent()  # (an error event, before the disconnected event)
        else:
            self._held_texts.drop()  # the session failed: its disconnected event is out already
        # Gemini's closing message is the WebSocket close frame itself (1000).
        transports = [*self._opening, self._transport]
        self._opening.clear()
        self._transport = None
        for transport in transports:
            if transport is not None:
                await transport.close()

    # ================================================================== sending
    def _live(self) -> tuple[GeminiTransport, GeminiHandler]:
        transport, handler = self._transport, self._handler
        if transport is None or handler is None:
            raise ConnectionFailedError("not connected", provider="gemini")
        return transport, handler

    async def _send(self, message: dict[str, Any]) -> None:
        await self._live()[0].send_json(message)

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        # A failed send raises ConnectionFailedError: core then reconnects and keeps the chunk for after.
        await self._send_audio(pcm)
        self._resumption.add(pcm)  # sent, but not yet covered by a resumption handle

    async def _send_audio(self, pcm: PcmData) -> None:
        await self._live()[0].send_audio(pcm)
        if self._activity_open:
            self._activity_audio = True
        flowing = self._audio_flowing
        if flowing is not None:
            self._last_audio_at = time.monotonic()
            if not flowing.is_set():
                flowing.set()

    async def _watch_input_pause(self, pause: float) -> None:
        """Send ``audioStreamEnd`` once the input has been quiet for ``pause`` seconds, so the server VAD
        closes the user's turn even when the app stops sending (instead of streaming silence)."""
        flowing = self._audio_flowing
        assert flowing is not None
        while True:
            await flowing.wait()
            wait = self._last_audio_at + pause - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            flowing.clear()
            if self.state is SessionState.CONNECTED:
                try:
                    await self._send({"realtimeInput": {"audioStreamEnd": True}})
                except RealtimeError:
                    log.debug("gemini: audioStreamEnd not sent", exc_info=True)

    async def simple_response(self, text: str) -> None:
        # Held while the model's turn is under way: Gemini would take the text as the user cutting in.
        await self._held_texts.submit(self._live()[1], text)

    async def _send_text(self, handler: GeminiHandler, text: str) -> None:
        transport = self._transport
        if transport is None or handler is not self._handler:
            raise ConnectionFailedError("not connected", provider="gemini")
        handler.expect_reply(text=text)
        try:
            await transport.send_json(protocol.text_message(text, self._options.text_input_mode))
        except ConnectionFailedError:
            if text in handler.unanswered_texts:
                handler.unanswered_texts.remove(text)  # the caller sends it again (core's retry, the hold)
            raise

    def _connected_handler(self) -> GeminiHandler | None:
        return self._handler if self.state is SessionState.CONNECTED else None

    async def begin_user_turn(self) -> None:
        transport, handler = self._live()
        self._activity_open = True
        self._activity_audio = False
        await transport.send_json({"realtimeInput": {"activityStart": {}}})
        handler.user_turn_started()

    async def end_user_turn(self) -> None:
        if not self._activity_open:
            raise ConfigurationError(
                "end_user_turn() without begin_user_turn(): no user turn is open", provider="gemini"
            )
        if not self._activity_audio:
            # The server answers an empty activity by closing the session (1007 "Precondition check failed").
            raise ConfigurationError(
                "no audio was sent since begin_user_turn(); send the user's audio before end_user_turn()",
                provider="gemini",
            )
        transport, handler = self._live()
        self._activity_open = False
        await transport.send_json({"realtimeInput": {"activityEnd": {}}})
        handler.user_turn_ended()

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        await self._send(protocol.video_message(frame.data, frame.mime_type))

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        transport, handler = self._live()
        claimed = handler.claim_results([r.call_id for r in results])
        fresh = [r for r, ok in zip(results, claimed, strict=True) if ok]
        dropped = [r.name for r, ok in zip(results, claimed, strict=True) if not ok]
        if dropped:
            # The connection that asked was replaced; the resumed session does not wait for these calls.
            self._emit_error_event(
                ProviderError(
                    f"tool results for {', '.join(dropped)} were not sent: the connection was replaced while the tool ran",
                    provider="gemini",
                ),
                context="tool results",
            )
        if not fresh:
            return
        handler.expect_reply()
        await transport.send_json(protocol.tool_response(fresh, handler.synthetic_ids))
        handler.synthetic_ids.difference_update(r.call_id for r in fresh)

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        # Gemini has no cancel or truncate message: the rest of the reply keeps arriving and core drops it
        # (it belongs to an interrupted response). Only user activity makes the server stop generating.
        return None

    # ================================================================== reconnection
    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        opts = self._options
        old = self._transport
        unanswered = list(self._handler.unanswered_texts) if self._handler is not None else []
        handle = self._resumption.handle if opts.session_resumption else None
        overlap = bool(ctx.planned and opts.make_before_break and old is not None and old.is_open)
        if not overlap and old is not None:
            await old.close()
        try:
            transport, handler = await self._open(handle)
            restored = handle is not None
        except RealtimeError as exc:
            if handle is None or not is_session_not_found(exc):
                raise
            transport, handler, restored = await self._resume_refused(old if overlap else None, handle)
            overlap = False
        self._install(transport, handler)  # first: close() from here on releases the new connection too
        if overlap and old is not None:
            await old.close()
        if self._activity_open:
            # a manual user turn was open on the old connection: reopen it before its audio is replayed
            await transport.send_json({"realtimeInput": {"activityStart": {}}})
        if restored:
            await self._replay(self._resumption.take(planned=ctx.planned))
        else:
            self._resumption.forget()
        # asked on the old connection and never answered there, or held: ask again, one turn at a time
        self._held_texts.restore(unanswered)
        await self._held_texts.pump(handler)
        return restored

    async def _replay(self, chunks: list[PcmData]) -> None:
        """Send the audio a resumed session must hear again; if the new connection fails meanwhile, keep
        what was not sent for the next attempt (core then retries)."""
        for i, pcm in enumerate(chunks):
            try:
                await self._send_audio(pcm)
            except ConnectionFailedError:
                self._resumption.give_back(chunks[i:])
                raise
        self._resumption.resent(chunks)

    async def _resume_refused(
        self, old: GeminiTransport | None, handle: str
    ) -> tuple[GeminiTransport, GeminiHandler, bool]:
        """The server refused the handle. If the old connection still holds the session, close it and try
        once more; otherwise start a new session without the old context (reported as not restored)."""
        if old is not None:
            await old.close()
            try:
                transport, handler = await self._open(handle)
                return transport, handler, True
            except RealtimeError as again:
                if not is_session_not_found(again):
                    raise
        log.info("gemini: resumption handle refused; starting a new session without the old context")
        self._resumption.forget()
        transport, handler = await self._open(None)
        return transport, handler, False
