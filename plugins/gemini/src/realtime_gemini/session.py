"""The Gemini Live session: :class:`GeminiRealtime`."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from websockets.exceptions import ConnectionClosed

from realtime_core import (
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    MissingAPIKeyError,
    PcmData,
    ProtocolError,
    ProviderError,
    Realtime,
    RealtimeError,
    ReconnectContext,
    Resampler,
    SecretStr,
    SessionState,
    Tool,
    ToolCall,
    ToolResult,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.errors import redact
from realtime_core.session import InterruptInfo
from realtime_core.tools import ToolFunc
from realtime_core.transport import WebSocketTransport

from . import protocol
from .capabilities import build_capabilities
from .close_codes import classify_close, is_session_not_found
from .endpoints import Endpoint, resolve_endpoint
from .options import DEFAULT_MODEL, ActivityDetection, ContextWindowCompression, GeminiOptions, VertexAI, build_options
from .resumption import ResumptionState

__all__ = ["API_KEY_ENV", "GeminiRealtime"]

log = logging.getLogger("realtime_gemini")

API_KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

# turnCompleteReason values that do not mean the model failed to answer (every other one does).
_NORMAL_TURN_REASONS = frozenset({"TURN_COMPLETE_REASON_UNSPECIFIED", "NEED_MORE_INPUT"})


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

    :param model: a Live model (default ``gemini-3.1-flash-live-preview``).
    :param api_version: ``"v1beta"`` (default) or ``"v1alpha"`` for the Developer API.
    :param base_url: replace ``wss://generativelanguage.googleapis.com`` (an emulator, a proxy).
    :param ca_file: a CA bundle to trust in addition to the system's (an emulator's private CA).

    What the model does:

    :param response_modality: ``"audio"`` (spoken replies, default) or ``"text"``.
    :param voice: a prebuilt voice such as ``"Kore"`` (case-sensitive).
    :param language_code: e.g. ``"en-US"`` (native-audio models pick the language themselves).
    :param media_resolution: ``"low"``, ``"medium"`` or ``"high"`` token cost per video frame.
    :param temperature, top_p, top_k, max_output_tokens, seed: sampling settings.
    :param thinking_budget: 2.5 models (0 turns thinking off); ``thinking_level`` for 3.x models.
    :param include_thoughts: ask for thought summaries (never spoken, never emitted as response text).
    :param affective_dialog, proactive_audio: 2.5 native-audio features (v1alpha, chosen automatically).

    Turn taking and input:

    :param manual_activity: turn server VAD off; mark turns with :meth:`begin_user_turn` /
        :meth:`end_user_turn` (``activityStart`` / ``activityEnd``).
    :param activity_detection: server VAD tuning (:class:`~realtime_gemini.ActivityDetection`).
    :param activity_handling: ``"interrupt"`` (barge-in, the server default) or ``"no_interruption"``.
    :param turn_coverage: what input a user turn includes (``"only_activity"``, ``"all_input"``...).
    :param input_transcription: transcribe the user (default True).
    :param output_transcription: transcribe spoken replies (default True for audio).
    :param text_input: how :meth:`simple_response` sends text: ``"realtime_input"`` (Developer API default),
        ``"client_content"`` (Vertex default; 2.5 models only on the Developer API).
    :param tool_schema: declare tool parameters as ``"parameters"`` (OpenAPI subset) or ``"json_schema"``
        (``parametersJsonSchema``); ``"auto"`` picks per model generation.
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
        response_modality: Literal["audio", "text"] = "audio",
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
        manual_activity: bool = False,
        activity_detection: ActivityDetection | None = None,
        activity_handling: Literal["interrupt", "no_interruption"] | None = None,
        turn_coverage: Literal["only_activity", "all_input", "audio_activity_and_all_video"] | None = None,
        input_transcription: bool = True,
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
        instructions: str | None = None,
        tools: Iterable[Tool | ToolFunc] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(instructions=instructions, tools=tools, **kwargs)
        key = resolve_api_key(api_key, API_KEY_ENV, provider="gemini", required=False)
        token = resolve_api_key(ephemeral_token, (), provider="gemini", required=False)
        self.options: GeminiOptions = build_options(
            model=model,
            api_key=key,
            ephemeral_token=token,
            auth_in=auth_in,
            vertex=vertex,
            api_version=api_version if api_version is not None else ("v1alpha" if token is not None else None),
            base_url=base_url,
            ca_file=ca_file,
            response_modality=response_modality,
            voice=voice,
            language_code=language_code,
            media_resolution=media_resolution,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            max_output_tokens=max_output_tokens,
            seed=seed,
            thinking_budget=thinking_budget,
            thinking_level=thinking_level,
            include_thoughts=include_thoughts,
            affective_dialog=affective_dialog,
            proactive_audio=proactive_audio,
            manual_activity=manual_activity,
            activity_detection=activity_detection or ActivityDetection(),
            activity_handling=activity_handling,
            turn_coverage=turn_coverage,
            input_transcription=input_transcription,
            output_transcription=output_transcription,
            session_resumption=session_resumption,
            context_window_compression=context_window_compression,
            tool_schema=tool_schema,
            text_input=text_input,
            audio_stream_end_after=audio_stream_end_after,
            resume_replay_ms=resume_replay_ms,
            make_before_break=make_before_break,
            go_away_margin=go_away_margin,
            extra_setup=dict(extra_setup or {}),
        )
        opts = self.options
        if opts.vertex is None and opts.ephemeral_token is None and opts.api_key is None:
            raise MissingAPIKeyError(
                "no credentials for gemini: pass api_key=..., ephemeral_token=... or vertex=VertexAI(...), "
                "or set GEMINI_API_KEY or GOOGLE_API_KEY",
                provider="gemini",
            )
        if (
            opts.vertex is not None
            and opts.vertex.access_token is None
            and opts.vertex.token_provider is None
            and key is None
        ):
            raise MissingAPIKeyError(
                "Vertex AI needs VertexAI(access_token=...) or token_provider=..., or an express-mode api_key",
                provider="gemini",
            )

        self._transport: WebSocketTransport | None = None
        self._opening: WebSocketTransport | None = None  # a connection being set up (reconnects)
        self._endpoint: Endpoint | None = None
        self._conn_gen = 0
        self._resumption = ResumptionState(opts.resume_replay_ms if opts.session_resumption else 0.0)

        # the model turn in progress
        self._ids = itertools.count(1)
        self._rid: str | None = None
        self._last_rid: str | None = None
        self._generation_done = False
        self._agent_text: list[str] = []
        self._reply_text: list[str] = []
        self._awaiting_reply = False
        self._text_turn = False  # the pending user turn is text: an interruption is not the user speaking
        self._out_rates: dict[str, int] = {}
        self._out_resampler: Resampler | None = None

        # the user's side
        self._user_text: list[str] = []
        self._user_speaking = False
        self._server_vad_signals = False  # the server sends voiceActivity: stop deriving speech events
        self._activity_open = False
        self._activity_audio = False

        # tools: call id -> connection generation that asked for it
        self._pending_calls: dict[str, int] = {}
        self._synthetic_ids: set[str] = set()

        # goAway: switch connections at the end of the current reply
        self._renew_pending = False

        # audioStreamEnd after a pause in the input
        self._last_audio_at = 0.0
        self._audio_flowing: asyncio.Event | None = None

    # ================================================================== capabilities
    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(self.options)

    @property
    def resumption_handle_available(self) -> bool:
        """Whether a resumable handle has been received (the next reconnect can restore the session)."""
        return self._resumption.has_handle

    # ================================================================== connection
    async def connect(self) -> None:
        transport, early = await self._open(None)
        self._install(transport, early)
        opts = self.options
        if opts.audio_stream_end_after is not None and not opts.manual_activity and opts.vertex is None:
            self._audio_flowing = asyncio.Event()
            self._core.spawn(self._watch_input_pause(opts.audio_stream_end_after), name="gemini-input-pause")
        self._emit_connected_event(self._summary(), self.capabilities)

    def _summary(self) -> dict[str, Any]:
        opts = self.options
        endpoint = self._endpoint
        return {
            "model": opts.model,
            "api": endpoint.api if endpoint else None,
            "api_version": endpoint.version if endpoint else None,
            "response_modality": opts.response_modality,
            "voice": opts.voice,
            "manual_activity": opts.manual_activity,
            "session_resumption": opts.session_resumption,
            "input_transcription": opts.input_transcription,
            "output_transcription": opts.wants_output_transcription,
            "tools": [t.name for t in self.tools],
        }

    async def _open(self, handle: str | None) -> tuple[WebSocketTransport, list[dict[str, Any]]]:
        """Open a connection, send ``setup`` and wait for ``setupComplete``.

        :return: the transport (receive loop not started yet) and any messages that came before
            ``setupComplete``.
        :raises RealtimeError: typed per the server's close code and reason when it refuses the setup.
        """
        endpoint = await resolve_endpoint(self.options)
        self._endpoint = endpoint
        transport = WebSocketTransport(self._core, classify=self._classify_close)
        self._opening = transport
        try:
            ws = await transport.open(
                endpoint.url, headers=endpoint.headers, ca_file=self.options.ca_file, open_timeout=self._core.connect_timeout
            )
            setup = protocol.build_setup(self.options, instructions=self.instructions, tools=self.tools, handle=handle)
            await transport.send_json(setup)
            early: list[dict[str, Any]] = []
            while True:
                try:
                    raw = await ws.recv()
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else 1006
                    reason = exc.rcvd.reason if exc.rcvd is not None else ""
                    raise classify_close(code, redact(reason)) from None
                try:
                    message = json.loads(raw)
                except ValueError:
                    raise ProtocolError(
                        "Gemini answered the setup with a frame that is not JSON", provider="gemini"
                    ) from None
                if not isinstance(message, dict):
                    raise ProtocolError("Gemini answered the setup with JSON that is not an object", provider="gemini")
                if "setupComplete" in message:
                    return transport, early
                early.append(message)
        except BaseException:
            await transport.close()
            raise
        finally:
            self._opening = None

    def _install(self, transport: WebSocketTransport, early: list[dict[str, Any]]) -> None:
        self._transport = transport
        self._conn_gen += 1
        transport.start(self._on_message)
        for message in early:
            self._dispatch_early(message)

    def _dispatch_early(self, message: dict[str, Any]) -> None:
        try:
            self._on_message(message)
        except Exception as exc:  # same policy as the receive loop: report, carry on
            self._emit_error_event(
                ProtocolError(f"could not handle a message: {exc}", provider="gemini"), context="receive"
            )

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
        for transport in (self._opening, self._transport):
            if transport is not None:
                await transport.close()

    # ================================================================== sending
    async def _send(self, message: Mapping[str, Any]) -> None:
        transport = self._transport
        if transport is None:
            raise ConnectionFailedError("not connected", provider="gemini")
        await transport.send_json(message)

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        await self._send_audio(pcm)

    async def _send_audio(self, pcm: PcmData) -> None:
        transport = self._transport
        if transport is None:
            raise ConnectionFailedError("not connected", provider="gemini")
        # A failed send raises ConnectionFailedError: core then reconnects and keeps the chunk for after.
        await transport.send_utf8(protocol.audio_message(pcm))
        # Sent, but not yet covered by a resumption handle: a resumed connection replays it.
        self._resumption.add(pcm)
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
        if self.options.text_input_mode == "realtime_input":
            message: dict[str, Any] = {"realtimeInput": {"text": text}}
        else:
            message = {"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": True}}
        self._awaiting_reply = True
        self._text_turn = True
        await self._send(message)

    async def begin_user_turn(self) -> None:
        self._activity_open = True
        self._activity_audio = False
        await self._send({"realtimeInput": {"activityStart": {}}})
        if not self._user_speaking:
            self._user_speaking = True
            self._emit_user_speech_started()

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
        self._activity_open = False
        self._awaiting_reply = True
        await self._send({"realtimeInput": {"activityEnd": {}}})
        if self._user_speaking:
            self._user_speaking = False
            self._emit_user_speech_stopped()

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        await self._send(protocol.video_message(frame.data, frame.mime_type))

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        gen = self._conn_gen
        fresh: list[ToolResult] = []
        dropped: list[str] = []
        for result in results:
            asked_on = self._pending_calls.pop(result.call_id, None)
            if asked_on == gen:
                fresh.append(result)
            else:
                dropped.append(result.name)
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
        self._awaiting_reply = True
        await self._send(protocol.tool_response(fresh, self._synthetic_ids))
        for result in fresh:
            self._synthetic_ids.discard(result.call_id)

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        # Gemini has no cancel or truncate message: the rest of the reply keeps arriving and core drops it
        # (it belongs to an interrupted response). Only user activity makes the server stop generating.
        return None

    # ================================================================== reconnection
    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        self._renew_pending = False
        opts = self.options
        old = self._transport
        handle = self._resumption.handle if opts.session_resumption else None
        overlap = bool(ctx.planned and opts.make_before_break and old is not None and old.is_open)
        if not overlap and old is not None:
            await old.close()
        restored = False
        try:
            transport, early = await self._open(handle)
            restored = handle is not None
        except RealtimeError as exc:
            if handle is None or not is_session_not_found(exc):
                raise
            transport = None
            early = []
            if overlap and old is not None:
                # Some servers may refuse to resume while the old connection holds the session.
                await old.close()
                overlap = False
                try:
                    transport, early = await self._open(handle)
                    restored = True
                except RealtimeError as again:
                    if not is_session_not_found(again):
                        raise
            if transport is None:
                log.info("gemini: resumption handle refused; starting a new session without the old context")
                self._resumption.forget()
                transport, early = await self._open(None)
        if overlap and old is not None:
            await old.close()
        self._reset_turn_state()
        self._install(transport, early)
        if self._activity_open:
            # a manual user turn was open on the old connection: reopen it before its audio is replayed
            await self._send({"realtimeInput": {"activityStart": {}}})
        if restored:
            chunks = self._resumption.take()
            for i, pcm in enumerate(chunks):
                try:
                    await self._send_audio(pcm)
                except ConnectionFailedError:
                    for rest in chunks[i:]:  # the next attempt replays them
                        self._resumption.add(rest)
                    raise
        else:
            self._resumption.forget()
        return restored

    def _reset_turn_state(self) -> None:
        rid = self._rid
        if rid is not None:
            # The old connection took the rest of this reply with it.
            self._emit_audio_output_done_event(rid, interrupted=True)
        self._rid = None
        self._generation_done = False
        self._agent_text = []
        self._reply_text = []
        self._awaiting_reply = False

    def _busy(self) -> bool:
        """The model is replying, running tools or about to reply: not a good moment to switch."""
        return self._rid is not None or bool(self._pending_calls) or self._awaiting_reply

    # ================================================================== receiving
    # Messages come from json.loads, so containers are plain dicts: ``isinstance(x, dict)`` is much cheaper
    # than an ABC check on the audio path.
    def _on_message(self, message: dict[str, Any]) -> None:
        activity = message.get("voiceActivity")
        if isinstance(activity, dict):
            self._on_voice_activity(
                activity.get("type") or activity.get("voiceActivityType"), activity.get("audioOffset")
            )
        signal = message.get("voiceActivityDetectionSignal")
        if isinstance(signal, dict):
            kind = signal.get("vadSignalType")
            self._on_voice_activity(
                "ACTIVITY_START"
                if kind == "VAD_SIGNAL_TYPE_SOS"
                else "ACTIVITY_END"
                if kind == "VAD_SIGNAL_TYPE_EOS"
                else None,
                None,
            )
        cancellation = message.get("toolCallCancellation")
        if isinstance(cancellation, dict):
            self._on_tool_cancellation(cancellation)
        content = message.get("serverContent")
        if not isinstance(content, dict) or not content:
            content = None
        if content is not None:
            self._on_server_content(content)
        call = message.get("toolCall")
        if isinstance(call, dict):
            self._on_tool_call(call)
        usage = message.get("usageMetadata")
        if isinstance(usage, dict) and usage:
            self._on_usage(usage)  # before the turn completes, so it belongs to this turn's response
        if content is not None:
            self._on_completion(content)
        update = message.get("sessionResumptionUpdate")
        if isinstance(update, dict):
            self._on_resumption_update(update)
        go_away = message.get("goAway")
        if isinstance(go_away, dict):
            self._on_go_away(go_away)

    def _on_server_content(self, content: Mapping[str, Any]) -> None:
        heard = content.get("inputTranscription")
        if isinstance(heard, dict):
            text = heard.get("text")
            if isinstance(text, str) and text:
                self._on_user_transcript(text)
        turn = content.get("modelTurn")
        if isinstance(turn, dict):
            parts = turn.get("parts")
            if isinstance(parts, list):
                for part in parts:
                    if isinstance(part, dict):
                        self._on_part(part)
        said = content.get("outputTranscription")
        if isinstance(said, dict):
            text = said.get("text")
            if isinstance(text, str) and text:
                self._on_agent_transcript(text)
        if content.get("interrupted"):
            self._on_interrupted()

    def _on_completion(self, content: Mapping[str, Any]) -> None:
        if content.get("generationComplete"):
            rid = self._rid
            if rid is not None:
                self._finish_generation(rid)
        if content.get("turnComplete"):
            self._on_turn_complete(content.get("turnCompleteReason"))

    def _ensure_response(self) -> str:
        rid = self._rid
        if rid is None:
            rid = self._rid = f"{self.session_id[:8]}-{next(self._ids)}"
            self._last_rid = rid
            self._generation_done = False
            self._agent_text = []
            self._reply_text = []
            if self._user_speaking and not self._server_vad_signals and not self.options.manual_activity:
                self._user_speaking = False  # derived: the model answering means the user's turn ended
                self._emit_user_speech_stopped()
            self._core.begin_response(rid)
        return rid

    def _on_part(self, part: Mapping[str, Any]) -> None:
        inline = part.get("inlineData")
        if isinstance(inline, dict):
            data = inline.get("data")
            mime = inline.get("mimeType")
            if not isinstance(data, str) or not isinstance(mime, str) or not mime.startswith("audio/"):
                return
            rid = self._ensure_response()
            if self._core.is_stale(rid):
                return  # interrupted: do not even decode it
            rate = self._out_rates.get(mime)
            if rate is None:
                rate = self._out_rates[mime] = protocol.parse_rate(mime)
            pcm = protocol.decode_audio(data, rate)
            if rate != protocol.OUTPUT_RATE:
                resampler = self._out_resampler
                if resampler is None:
                    resampler = self._out_resampler = Resampler(protocol.OUTPUT_RATE, 1)
                pcm = resampler.process(pcm)
            if pcm:
                self._emit_audio_output_event(pcm, rid)
            return
        text = part.get("text")
        if isinstance(text, str) and text and not part.get("thought"):
            rid = self._ensure_response()
            if self.options.response_modality == "text":
                self._reply_text.append(text)
                self._emit_response_event(text, rid, is_complete=False)

    def _on_agent_transcript(self, text: str) -> None:
        rid = self._ensure_response()
        if self._generation_done:
            log.debug("gemini: transcript after generationComplete dropped")
            return
        self._agent_text.append(text)
        self._emit_agent_speech_transcription(text, mode="delta", response_id=rid)

    def _finish_generation(self, rid: str) -> None:
        if self._generation_done:
            return
        self._generation_done = True
        if self._reply_text:
            self._emit_response_event("".join(self._reply_text), rid, is_complete=True)
        if self._agent_text:
            self._emit_agent_speech_transcription("".join(self._agent_text), mode="final", response_id=rid)
        self._emit_audio_output_done_event(rid)

    def _on_turn_complete(self, reason: object) -> None:
        rid = self._rid
        if rid is not None:
            self._finish_generation(rid)
        self._rid = None
        self._awaiting_reply = False
        if not self._pending_calls:
            self._text_turn = False
        if self._user_text:
            self._emit_user_speech_transcription("".join(self._user_text), mode="final")
            self._user_text = []
        if self._user_speaking and not self._server_vad_signals and not self.options.manual_activity:
            self._user_speaking = False
            self._emit_user_speech_stopped()
        if isinstance(reason, str) and reason and reason not in _NORMAL_TURN_REASONS:
            self._emit_error_event(
                ProviderError(f"the model ended its turn early: {reason}", code=reason, provider="gemini"),
                context="turn complete",
            )
        if self._renew_pending and not self._busy() and not self.options.session_resumption:
            # (with resumption, the switch waits for the handle that follows turnComplete and covers the turn)
            self._renew_pending = False
            self._core.renew("go_away")

    def _on_interrupted(self) -> None:
        self._core.handle_barge_in()
        if self._text_turn:
            return
        if not self._user_speaking and not self._server_vad_signals and not self.options.manual_activity:
            self._user_speaking = True  # derived: the server cut the reply because the user spoke
            self._emit_user_speech_started()

    def _on_user_transcript(self, text: str) -> None:
        if not self._user_speaking and not self._server_vad_signals and not self.options.manual_activity:
            self._user_speaking = True
            self._emit_user_speech_started()
        self._user_text.append(text)
        self._emit_user_speech_transcription(text, mode="delta")

    def _on_voice_activity(self, kind: object, offset: object) -> None:
        if kind not in ("ACTIVITY_START", "ACTIVITY_END"):
            return
        self._server_vad_signals = True
        at = protocol.parse_duration(offset)
        at_ms = at * 1000.0 if at is not None else None
        if kind == "ACTIVITY_START":
            if not self._user_speaking:
                self._user_speaking = True
                self._emit_user_speech_started(audio_start_ms=at_ms)
        elif self._user_speaking:
            self._user_speaking = False
            self._awaiting_reply = True
            self._emit_user_speech_stopped(audio_end_ms=at_ms)

    def _on_tool_call(self, call: Mapping[str, Any]) -> None:
        calls = call.get("functionCalls")
        if not isinstance(calls, list) or not calls:
            return
        rid = self._ensure_response()
        batch: list[ToolCall] = []
        for fc in calls:
            if not isinstance(fc, dict):
                continue
            call_id = fc.get("id")
            if not isinstance(call_id, str) or not call_id:
                call_id = f"{rid}-call-{len(batch) + 1}"  # Vertex may omit ids; never sent back
                self._synthetic_ids.add(call_id)
            args = fc.get("args")
            self._pending_calls[call_id] = self._conn_gen
            batch.append(
                ToolCall(
                    call_id, str(fc.get("name") or ""), dict(args) if isinstance(args, dict) else {}, response_id=rid
                )
            )
        # The reply that asked for the tools ends here; the model continues in a new response afterwards.
        self._finish_generation(rid)
        self._rid = None
        self._core.start_tool_calls(batch)

    def _on_tool_cancellation(self, cancellation: Mapping[str, Any]) -> None:
        ids = cancellation.get("ids")
        if not isinstance(ids, list):
            return
        found = [i for i in ids if isinstance(i, str)]
        for call_id in found:
            self._pending_calls.pop(call_id, None)
            self._synthetic_ids.discard(call_id)
        self._core.cancel_tool_calls(found)

    def _on_usage(self, usage: Mapping[str, Any]) -> None:
        fields = protocol.usage_fields(usage)
        if all(v is None for v in fields.values()):
            return
        rid = self._rid
        if rid is None and (self._awaiting_reply or self._user_speaking):
            rid = self._ensure_response()  # 3.x models report the prompt's usage as generation starts
        self._emit_usage_event(rid or self._last_rid, raw=dict(usage), **fields)

    def _on_resumption_update(self, update: Mapping[str, Any]) -> None:
        handle = update.get("newHandle")
        if update.get("resumable") and isinstance(handle, str) and handle and self.options.session_resumption:
            self._resumption.update(handle)
            if self._renew_pending and not self._busy():
                self._renew_pending = False
                self._core.renew("go_away")  # a goAway was waiting for a handle that covers the finished turn

    def _on_go_away(self, go_away: Mapping[str, Any]) -> None:
        left = protocol.parse_duration(go_away.get("timeLeft"))
        if left is None or left < 0:
            left = 0.0
        log.info("gemini: goAway, %.1f s left on this connection", left)
        if not self._busy():
            self._core.renew("go_away")
            return
        # Finish the current reply first (the next handle will cover it), but never miss the deadline.
        self._renew_pending = True
        margin = min(self.options.go_away_margin, left / 2)
        self._core.spawn(self._renew_by_deadline(max(0.0, left - margin), self._conn_gen), name="gemini-go-away")

    async def _renew_by_deadline(self, delay: float, gen: int) -> None:
        await asyncio.sleep(delay)
        if self._renew_pending and gen == self._conn_gen:
            self._renew_pending = False
            self._core.renew("go_away")
