"""One connection's handler: Gemini's server messages turned into :class:`~realtime_core.SessionCore` calls.

It is given the session's ``SessionCore`` and a :class:`GeminiHost` (a small protocol the session
implements), never the session class. Everything it keeps is about its own connection: the model turn in
progress, the tool calls asked on it, the user's utterance being transcribed, a pending goAway.

A message may combine fields (audio and a transcript, usage and ``turnComplete``...), so every field of
every message is read, in the order that keeps the events right: transcripts and audio, then tool calls,
then usage, then the end of the generation or turn. Unknown fields and empty messages are ignored (the
real server sends ``{}`` and ``{"serverContent": {}}``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from realtime_core import ProtocolError, ProviderError, Resampler, SessionCore, ToolCall

from . import protocol
from .options import GeminiOptions
from .usage import ReplyUsage
from .utterance import Utterance

__all__ = ["GeminiHandler", "GeminiHost"]

log = logging.getLogger("realtime_gemini")

# turnCompleteReason values that do not mean the model failed to answer (every other one does).
_NORMAL_TURN_REASONS = frozenset({"TURN_COMPLETE_REASON_UNSPECIFIED", "NEED_MORE_INPUT"})
# interactionStatus values that end an interaction (REQUIRES_ACTION is IDLE's deprecated name).
_INTERACTION_DONE = frozenset({"IDLE", "REQUIRES_ACTION", "INTERACTION_STATUS_UNSPECIFIED"})


class GeminiHost(Protocol):
    """What a handler needs of its session (``GeminiRealtime`` implements it)."""

    @property
    def options(self) -> GeminiOptions: ...

    def new_response_id(self) -> str:
        """A response id unique in the session (across connections)."""
        ...

    def audio_confirmed(self) -> None:
        """The server showed it has every audio chunk sent so far."""
        ...

    def resumption_handle(self, handle: str) -> None:
        """A new resumable handle (it covers everything sent so far)."""
        ...

    def turn_ended(self) -> None:
        """The model's turn is complete (``turnComplete``): text held back meanwhile may go now."""
        ...


class GeminiHandler:
    """Per-connection state and the server messages of that connection (see the module docstring).

    :ivar ready: resolves at ``setupComplete``.
    :ivar pending_calls: ids of the tool calls asked on this connection and not answered yet.
    :ivar synthetic_ids: ids this handler made up for calls without one (Vertex); never sent back.
    """

    def __init__(self, core: SessionCore, host: GeminiHost) -> None:
        self.core = core
        self.host = host
        options = host.options
        self._manual = options.manual_activity
        self._text_mode = options.modality == "text"
        self._staged = options.profile.interaction_status  # one reply spans several turnCompletes
        self._non_blocking = options.non_blocking_tools
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.detached = False
        # the model turn in progress
        self._rid: str | None = None
        self._last_rid: str | None = None
        self._generation_done = False
        self._agent_text: list[str] = []
        self._reply_text: list[str] = []
        self._usage = ReplyUsage()
        self._out_rates: dict[str, int | None] = {}
        self._out_resampler: Resampler | None = None
        self._heard_at = time.monotonic()  # the last server message
        self._playout_end = 0.0  # when the reply's audio ends if played in real time from its arrival
        # the user's side
        self._utterance = Utterance()
        self._user_speaking = False
        self._vad_signals = False  # the server sends voiceActivity: stop deriving speech events
        self.awaiting_reply = False
        self.text_turn = False  # the pending user turn is text: an interruption is not the user speaking
        self.unanswered_texts: list[str] = []  # sent on this connection, no turn completed since
        # tools and limits
        self.pending_calls: set[str] = set()
        self.synthetic_ids: set[str] = set()
        self._renew_pending = False

    @property
    def answering(self) -> bool:
        """The model's turn is under way and not cut locally: it is replying, waiting on tools, or owes a reply.
        User text sent now would cut it (Gemini takes text as user activity), so the session holds text back."""
        rid = self._rid
        if rid is not None:
            return not self.core.is_stale(rid)  # after interrupt() the app wants the reply gone: text may cut it
        return bool(self.pending_calls) or self.awaiting_reply

    @property
    def quiet_since(self) -> float:
        """Since when (``time.monotonic()``) the server has shown no progress: its last message, or the end
        of the audio it sent if that plays on longer (the server ends the turn when the audio would end)."""
        return max(self._heard_at, self._playout_end)

    @property
    def busy(self) -> bool:
        """The model is replying, running tools or about to reply: not a good moment to switch."""
        return self._rid is not None or bool(self.pending_calls) or self.awaiting_reply

    def expect_reply(self, *, text: str | None = None) -> None:
        """The session asked for a reply (``text`` from the user, tool results, the end of a manual turn)."""
        self.awaiting_reply = True
        if text is not None:
            self.text_turn = True
            self.unanswered_texts.append(text)

    def user_turn_started(self) -> None:
        """The session began a manual user turn (``activityStart``)."""
        if not self._user_speaking:
            self._user_speaking = True
            self.core.emit_user_speech_started()

    def user_turn_ended(self) -> None:
        self.awaiting_reply = True
        if self._user_speaking:
            self._user_speaking = False
            self.core.emit_user_speech_stopped()

    def detach(self) -> None:
        """The connection was replaced: what it still sends is ignored, and its reply ends here."""
        self.detached = True
        rid = self._rid
        self._flush_usage(rid or self._last_rid)
        if rid is not None:
            self.core.emit_audio_output_done_event(rid, interrupted=True)
        self._rid = None

    # ================================================================== messages
    # Messages come from json.loads, so containers are plain dicts: ``isinstance(x, dict)`` is much cheaper
    # than an ABC check on the audio path.
    def handle(self, message: dict[str, Any]) -> None:
        if self.detached:
            return
        self._heard_at = time.monotonic()
        if "setupComplete" in message and not self.ready.done():
            self.ready.set_result(None)
        activity = message.get("voiceActivity")
        if isinstance(activity, dict):
            kind = activity.get("type", activity.get("voiceActivityType"))
            self._on_voice_activity(kind, activity.get("audioOffset"))
        signal = message.get("voiceActivityDetectionSignal")
        if isinstance(signal, dict):
            kind = {"VAD_SIGNAL_TYPE_SOS": "ACTIVITY_START", "VAD_SIGNAL_TYPE_EOS": "ACTIVITY_END"}.get(
                str(signal.get("vadSignalType"))
            )
            self._on_voice_activity(kind, None)
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
            self._usage.add(usage)
        if content is not None:
            self._on_completion(content)
        update = message.get("sessionResumptionUpdate")
        if isinstance(update, dict):
            self._on_resumption_update(update)
        go_away = message.get("goAway")
        if isinstance(go_away, dict):
            self._on_go_away(go_away)

    def _on_server_content(self, content: dict[str, Any]) -> None:
        interim = content.get("interimInputTranscription")
        if isinstance(interim, dict):
            text = interim.get("text")
            if isinstance(text, str) and text:
                self._on_interim_transcript(text)
        heard = content.get("inputTranscription")
        if isinstance(heard, dict):
            text = heard.get("text")
            if isinstance(text, str) and text:
                self._on_user_transcript(text)
        turn = content.get("modelTurn")  # {role?: "model", parts: [...]}: the role says nothing new
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
        if content.get("interrupted") is True:
            self._on_interrupted()

    def _on_completion(self, content: dict[str, Any]) -> None:
        if content.get("generationComplete") is True and not self._staged:
            rid = self._rid
            if rid is not None:
                self._finish_generation(rid)
        if content.get("turnComplete") is True:
            status = content.get("interactionStatus")
            if isinstance(status, str) and status:
                self._staged = True  # this connection stages replies, whatever the model's name said
                if status not in _INTERACTION_DONE:
                    self._flush_user_transcript()  # one spoken chunk ended; the reply goes on
                    return
            self._on_turn_complete(content.get("turnCompleteReason"))

    # ================================================================== the reply
    def _ensure_response(self) -> str:
        rid = self._rid
        if rid is None:
            rid = self._rid = self._last_rid = self.host.new_response_id()
            self._generation_done = False
            self._agent_text = []
            self._reply_text = []
            if self._user_speaking and not self._vad_signals and not self._manual:
                self._user_speaking = False  # derived: the model answering means the user's turn ended
                self.core.emit_user_speech_stopped()
            self.core.begin_response(rid)
        return rid

    def _on_part(self, part: dict[str, Any]) -> None:
        inline = part.get("inlineData")
        if isinstance(inline, dict):
            data = inline.get("data")
            mime = inline.get("mimeType")
            if isinstance(data, str) and isinstance(mime, str) and mime.startswith("audio/"):
                self._on_audio(data, mime)
            return
        text = part.get("text")
        if isinstance(text, str) and text and part.get("thought") is not True:
            rid = self._ensure_response()
            if self._text_mode:
                self._reply_text.append(text)
                self.core.emit_response_event(text, rid, is_complete=False)

    def _on_audio(self, data: str, mime: str) -> None:
        rate = self._out_rates.get(mime, 0)
        if rate == 0:
            rate = self._out_rates[mime] = protocol.parse_rate(mime) if len(self._out_rates) < 16 else None
        if rate is None:
            raise ProtocolError(
                f"audio labelled {mime[:60]!r}: not a rate this client plays "
                f"({protocol.MIN_OUTPUT_RATE}-{protocol.MAX_OUTPUT_RATE} Hz); the chunk was dropped",
                provider="gemini",
            )
        rid = self._ensure_response()
        if self.core.is_stale(rid):
            return  # interrupted: do not even decode it
        try:
            pcm = protocol.decode_audio(data, rate)
        except ValueError:
            raise ProtocolError("audio that is not base64; the chunk was dropped", provider="gemini") from None
        if rate != protocol.OUTPUT_RATE:
            resampler = self._out_resampler
            if resampler is None:
                resampler = self._out_resampler = Resampler(protocol.OUTPUT_RATE, 1)
            pcm = resampler.process(pcm)
        if pcm:
            self._playout_end = max(self._playout_end, self._heard_at) + pcm.duration
            self.core.emit_audio_output_event(pcm, rid)

    def _on_agent_transcript(self, text: str) -> None:
        rid = self._ensure_response()
        if self._generation_done:
            log.debug("gemini: transcript after generationComplete dropped")
            return
        self._agent_text.append(text)
        self.core.emit_agent_speech_transcription(text, mode="delta", response_id=rid)

    def _finish_generation(self, rid: str) -> None:
        if self._generation_done:
            return
        self._generation_done = True
        core = self.core
        if self._reply_text:
            core.emit_response_event("".join(self._reply_text), rid, is_complete=True)
        if self._agent_text:
            core.emit_agent_speech_transcription("".join(self._agent_text), mode="final", response_id=rid)
        core.emit_audio_output_done_event(rid)

    def _on_turn_complete(self, reason: object) -> None:
        rid = self._rid
        if rid is not None:
            self._finish_generation(rid)
        self._rid = None
        self.awaiting_reply = False
        self.unanswered_texts = []
        self._flush_usage(rid or self._last_rid)
        if not self.pending_calls:
            self.text_turn = False
        self._flush_user_transcript()
        if self._user_speaking and not self._vad_signals and not self._manual:
            self._user_speaking = False
            self.core.emit_user_speech_stopped()
        if isinstance(reason, str) and reason and reason not in _NORMAL_TURN_REASONS:
            self.core.emit_error_event(
                ProviderError(f"the model ended its turn early: {reason[:80]}", code=reason[:80], provider="gemini"),
                context="turn complete",
            )
        if self._renew_pending and not self.busy and not self.host.options.session_resumption:
            # (with resumption, the switch waits for the handle that follows turnComplete and covers the turn)
            self._renew_pending = False
            self.core.renew("go_away")
        self.host.turn_ended()

    def _on_interrupted(self) -> None:
        self.core.handle_barge_in()
        # The cut generation sends nothing more: what comes next belongs to a new response.
        self._rid = None
        if self.text_turn:
            return
        if not self._user_speaking and not self._vad_signals and not self._manual:
            self._user_speaking = True  # derived: the server cut the reply because the user spoke
            self.core.emit_user_speech_started()

    # ================================================================== the user
    def _on_user_transcript(self, text: str) -> None:
        self._derive_speech_start()
        self._show_user_delta(self._utterance.add(text))

    def _on_interim_transcript(self, text: str) -> None:
        """A low-latency guess at the whole utterance so far (it replaces the previous one)."""
        self._derive_speech_start()
        self._show_user_delta(self._utterance.interim(text))

    def _show_user_delta(self, delta: str) -> None:
        if delta:
            self.core.emit_user_speech_transcription(delta, mode="delta")

    def _flush_user_transcript(self) -> None:
        """Exactly one final transcript per utterance."""
        text = self._utterance.finish()
        if text:
            self.core.emit_user_speech_transcription(text, mode="final")

    def _derive_speech_start(self) -> None:
        if not self._user_speaking and not self._vad_signals and not self._manual:
            self._user_speaking = True
            self.core.emit_user_speech_started()

    def _on_voice_activity(self, kind: object, offset: object) -> None:
        if kind not in ("ACTIVITY_START", "ACTIVITY_END"):
            return
        self._vad_signals = True
        self.host.audio_confirmed()  # the server's voice detection has run over our audio up to here
        at = protocol.parse_duration(offset)
        at_ms = at * 1000.0 if at is not None and at >= 0 else None
        if kind == "ACTIVITY_START":
            self._flush_user_transcript()  # a new utterance: the previous one is complete
            if not self._user_speaking:
                self._user_speaking = True
                self.core.emit_user_speech_started(audio_start_ms=at_ms)
        elif self._user_speaking:
            self._user_speaking = False
            self.awaiting_reply = True
            self.core.emit_user_speech_stopped(audio_end_ms=at_ms)

    # ================================================================== tools
    def _on_tool_call(self, call: dict[str, Any]) -> None:
        calls = call.get("functionCalls")
        if not isinstance(calls, list) or not calls:
            return
        rid = self._rid
        batch: list[ToolCall] = []
        for fc in calls:
            if not isinstance(fc, dict):
                continue
            call_id = fc.get("id")
            if not isinstance(call_id, str) or not call_id:
                call_id = f"{rid or 'call'}-{self.host.new_response_id()}"  # Vertex may omit ids; never sent back
                self.synthetic_ids.add(call_id)
            args = fc.get("args")
            name = fc.get("name")
            self.pending_calls.add(call_id)
            batch.append(
                ToolCall(
                    call_id,
                    name if isinstance(name, str) else "",
                    args if isinstance(args, dict) else {},
                    response_id=rid,
                )
            )
        if not batch:
            return
        if rid is not None and not self._non_blocking:
            # A blocking call stops the model: this reply ends here and the answer comes as a new response.
            self._finish_generation(rid)
            self._flush_usage(rid)
            self._rid = None
        self.core.start_tool_calls(batch)

    def _on_tool_cancellation(self, cancellation: dict[str, Any]) -> None:
        ids = cancellation.get("ids")
        if not isinstance(ids, list):
            return
        found = [i for i in ids if isinstance(i, str)]
        for call_id in found:
            self.pending_calls.discard(call_id)
            self.synthetic_ids.discard(call_id)
        self.core.cancel_tool_calls(found)

    def claim_results(self, call_ids: list[str]) -> list[bool]:
        """Whether each call was asked on this connection (and is still awaited); marks them answered."""
        claimed = [call_id in self.pending_calls for call_id in call_ids]
        for call_id in call_ids:
            self.pending_calls.discard(call_id)
        return claimed

    def _flush_usage(self, rid: str | None) -> None:
        taken = self._usage.take()
        if taken is not None:
            fields, raw = taken
            self.core.emit_usage_event(rid, raw=raw, **fields)

    # ================================================================== session limits
    def _on_resumption_update(self, update: dict[str, Any]) -> None:
        handle = update.get("newHandle")
        if update.get("resumable") is not True or not isinstance(handle, str) or not handle or len(handle) > 4096:
            return  # "not resumable right now" (mid-reply, mid-tool): keep the previous handle
        if not self.host.options.session_resumption:
            return
        self.host.resumption_handle(handle)
        if self._renew_pending and not self.busy:
            self._renew_pending = False
            self.core.renew("go_away")  # a goAway was waiting for a handle that covers the finished turn

    def _on_go_away(self, go_away: dict[str, Any]) -> None:
        left = protocol.parse_duration(go_away.get("timeLeft"))
        left = min(max(left or 0.0, 0.0), 3600.0)
        log.info("gemini: goAway, %.1f s left on this connection", left)
        if not self.busy:
            self.core.renew("go_away")
            return
        # Finish the current reply first (the next handle will cover it), but never miss the deadline.
        if not self._renew_pending:
            self._renew_pending = True
            margin = min(self.host.options.go_away_margin, left / 2)
            self.core.spawn(self._renew_by_deadline(max(0.0, left - margin)), name="gemini-go-away")

    async def _renew_by_deadline(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._renew_pending and not self.detached:
            self._renew_pending = False
            self.core.renew("go_away")
