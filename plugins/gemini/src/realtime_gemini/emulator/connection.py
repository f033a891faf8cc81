"""One client connection to the emulated Gemini Live server: setup, input, model turns, faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData, Resampler
from realtime_core.emulator import EnergyVad, Fault, PlannedReply, PlannedTurn, VadEvent

from ..options import VOICES
from ..protocol import parse_rate
from .media import duration, image_size, usage_metadata
from .profiles import Profile, profile_for
from .schema import INVALID_ARGUMENT, Context, WireError, camel, decode_bytes, fast_audio, normalize
from .store import Conversation, Turn

if TYPE_CHECKING:
    from aiohttp import web

    from .server import GeminiEmulator, Route

__all__ = ["ConnectionGone", "GeminiConnection"]

log = logging.getLogger("realtime_gemini.emulator")

VAD_RATE = 16000
UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_KEY = "API key not valid. Please pass a valid API key."
SESSION_NOT_FOUND = "BidiGenerateContent session not found"
GO_AWAY_ABORT = (
    "Connection aborted because the client failed to close the connection after receiving a GoAway "
    "signal once the session duration limit was reached."
)
DEFAULT_REASONS = {
    1011: "Internal error occurred.",
    1013: "The service is currently unavailable.",
    1008: "Request trace id: emulator, [ORIGINAL ERROR] RPC::DEADLINE_EXCEEDED: ",
    1007: INVALID_ARGUMENT,
}


class ConnectionGone(Exception):
    """The socket closed while the emulator was still talking."""


class TurnAborted(Exception):
    """A fault ended the model turn early (``turnCompleteReason`` already sent)."""


TURN_FAILURES = frozenset(
    {
        "MALFORMED_FUNCTION_CALL", "RESPONSE_REJECTED", "PROHIBITED_INPUT_CONTENT", "IMAGE_PROHIBITED_INPUT_CONTENT",
        "INPUT_IMAGE_CELEBRITY", "INPUT_TEXT_NCII_PROHIBITED", "INPUT_OTHER", "INPUT_IP_PROHIBITED", "BLOCKLIST",
        "UNSAFE_PROMPT_FOR_IMAGE_GENERATION", "GENERATED_IMAGE_SAFETY", "GENERATED_CONTENT_SAFETY",
        "GENERATED_AUDIO_SAFETY",
    }
)  # fmt: skip


def truncate_reason(reason: str, limit: int = 123) -> str:
    """Close reasons are cut to 123 bytes (the close-frame limit), on a UTF-8 boundary."""
    raw = reason.encode("utf-8")
    if len(raw) <= limit:
        return reason
    return raw[:limit].decode("utf-8", "ignore")


def _find_key(value: Any, key: str) -> bool:
    if isinstance(value, Mapping):
        return key in value or any(_find_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_find_key(v, key) for v in value)
    return False


class GeminiConnection:
    """State and behaviour of one WebSocket connection."""

    def __init__(
        self, emu: GeminiEmulator, ws: web.WebSocketResponse, request: web.Request, cid: int, route: Route
    ) -> None:
        self.emu = emu
        self.ws = ws
        self.request = request
        self.id = cid
        self.route = route
        self.ctx = Context(vertex=route.api == "vertex", alpha=route.version == "v1alpha")
        self.count = 0
        self.closed = False
        self.close_code: int | None = None
        self._lock = asyncio.Lock()
        self._stall_until = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()

        self.profile: Profile | None = None
        self.model_id = ""
        self.conversation = Conversation()
        self.modality = "AUDIO"
        self.input_tx = False
        self.output_tx = False
        self.resumption = False
        self.manual = False
        self.no_interruption = False
        self.seed_allowed = False
        self.voice_activity = False
        self.json_schema_tools: set[str] = set()

        self.vad: EnergyVad | None = None
        self._resampler: Resampler | None = None
        self.activity_open = False
        self._activity_audio: list[PcmData] = []
        self.audio_ms = 0.0

        self.turn_task: asyncio.Task[None] | None = None
        self.generating = False
        self.playing_until = 0.0
        self.pending: dict[str, str] = {}  # call id -> tool name
        self._cancelled_calls: set[str] = set()
        self._tools_answered = asyncio.Event()
        self._sent_text: list[str] = []
        self._prompt_audio_ms = 0.0
        self._prompt_chars = 0
        self._images = 0

    # ================================================================== lifecycle
    async def run(self) -> None:
        try:
            first = await self._receive()
            if first is None:
                return
            await self._handle_setup(first)
            self._start_timers()
            await self._message_faults()
            while not self.closed:
                message = await self._receive()
                if message is None:
                    break
                await self._message_faults()
                if self.closed:
                    break
                await self._handle(message)
        except WireError as exc:
            await self.close(exc.code, exc.reason)
        except ConnectionGone:
            pass
        finally:
            await self._cleanup()

    async def _cleanup(self) -> None:
        self.closed = True
        self.conversation_detach()
        current = asyncio.current_task()
        tasks = [t for t in (*self._tasks, self.turn_task) if t is not None and t is not current and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def conversation_detach(self) -> None:
        with contextlib.suppress(KeyError):
            self.emu.live_conversations[self.conversation.id].discard(self.id)

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"gemini-emulator-{name}-{self.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason`` (cut to 123 bytes), as the real server reports errors."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.emu.record_close(self.id, code, reason)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=truncate_reason(reason).encode("utf-8"))

    def drop(self) -> None:
        """Cut the TCP connection with no close frame (the client sees 1006)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = 1006
        self.emu.record_close(self.id, 1006, "dropped")
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    # ================================================================== wire
    async def _receive(self) -> dict[str, Any] | None:
        from aiohttp import WSMsgType

        msg = await self.ws.receive()
        if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
            try:
                value = json.loads(msg.data)
            except ValueError:
                raise WireError(1007, "Invalid JSON payload received. Unexpected token.") from None
            self.count += 1
            if not isinstance(value, dict):
                raise WireError(1007, "Invalid JSON payload received. Expected an object.")
            return value
        if msg.type is WSMsgType.CLOSE:
            code = int(msg.data) if isinstance(msg.data, int) else None
            self.close_code = code
            if code == 1000:
                self.emu.note("session_finished", self.id, how="close 1000")
        return None

    async def send(self, message: dict[str, Any]) -> None:
        """Send one server message (binary frames by default, as the real server does)."""
        await self.send_raw(json.dumps(message, separators=(",", ":")), message)

    async def send_raw(self, text: str, message: Any = None) -> None:
        if self.closed:
            raise ConnectionGone
        stall = self._stall_until - time.monotonic()
        if stall > 0:
            await asyncio.sleep(stall)
        async with self._lock:
            if self.closed or self.ws.closed:
                raise ConnectionGone
            try:
                if self.emu.frames == "text":
                    await self.ws.send_str(text)
                else:
                    await self.ws.send_bytes(text.encode("utf-8"))
            except Exception as exc:
                raise ConnectionGone from exc
        self.emu.record_sent(self.id, message if message is not None else text)

    # ================================================================== setup
    def _credential(self) -> tuple[str | None, str]:
        req = self.request
        api = self.route.api
        if api == "developer":
            if "key" in req.query:
                return req.query["key"], "query"
            key = req.headers.get("x-goog-api-key")
            return (key, "header") if key is not None else (None, "none")
        if api == "constrained":
            if "access_token" in req.query:
                return req.query["access_token"], "query"
            auth = req.headers.get("Authorization", "")
            if auth.startswith("Token "):
                return auth.removeprefix("Token ").strip(), "header"
            return None, "none"
        auth = req.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip(), "bearer"
        key = req.headers.get("x-goog-api-key")
        return (key, "express") if key is not None else (None, "none")

    def _check_credentials(self) -> None:
        value, via = self._credential()
        self.emu.record(
            "connect",
            {"path": self.request.path, "api": self.route.api, "version": self.route.version, "credential_via": via},
            self.id,
        )
        if not value:
            raise WireError(1008, UNREGISTERED)
        emu = self.emu
        expected: str | None
        if self.route.api == "constrained":
            expected = emu.ephemeral_token
        elif self.route.api == "vertex" and via == "bearer":
            expected = emu.vertex_token
        else:
            expected = emu.api_key
        if expected is not None and value != expected:
            raise WireError(1007, BAD_KEY)

    async def _handle_setup(self, raw: dict[str, Any]) -> None:
        keys = [camel(str(k)) for k in raw]
        self._check_credentials()  # records the connection first, and fails before looking at the setup
        self.emu.record(keys[0] if len(keys) == 1 else "invalid", raw, self.id)
        if keys != ["setup"]:
            raise WireError(1007, INVALID_ARGUMENT)
        _, setup = normalize(raw, self.ctx)
        emu = self.emu

        model = setup.get("model")
        if not isinstance(model, str) or not model:
            raise WireError(1007, INVALID_ARGUMENT)
        self.model_id = self._check_model(model)
        profile = self.profile = profile_for(emu.profile, self.model_id)
        self.voice_activity = emu.voice_activity if emu.voice_activity is not None else profile.voice_activity

        gen = setup.get("generationConfig", {})
        modalities = gen.get("responseModalities") or [emu.default_modality]
        if len(set(modalities)) != 1 or modalities[0] not in ("AUDIO", "TEXT"):
            raise WireError(1007, INVALID_ARGUMENT)
        self.modality = modalities[0]
        voice = gen.get("speechConfig", {}).get("voiceConfig", {}).get("prebuiltVoiceConfig", {}).get("voiceName")
        if voice is not None and voice not in VOICES:
            raise WireError(1007, f"Voice name {voice} is not supported. {INVALID_ARGUMENT}")
        if not profile.allow_proactivity and ("proactivity" in setup or "enableAffectiveDialog" in gen):
            raise WireError(1007, INVALID_ARGUMENT)

        self._check_tools(setup.get("tools", []), profile)

        ric = setup.get("realtimeInputConfig", {})
        aad = ric.get("automaticActivityDetection", {})
        self.manual = bool(aad.get("disabled", False))
        self.no_interruption = ric.get("activityHandling") == "NO_INTERRUPTION"
        if not self.manual:
            vad = emu.scenario.vad
            threshold = vad.threshold * (2.0 if aad.get("startOfSpeechSensitivity") == "START_SENSITIVITY_LOW" else 1.0)
            silence = float(aad.get("silenceDurationMs", vad.silence_ms))
            if aad.get("endOfSpeechSensitivity") == "END_SENSITIVITY_LOW":
                silence *= 1.5
            self.vad = EnergyVad(
                VAD_RATE,
                threshold=threshold,
                silence_ms=max(10.0, silence),
                prefix_ms=float(aad.get("prefixPaddingMs", vad.prefix_ms)),
                min_speech_ms=vad.min_speech_ms,
            )
        self.input_tx = "inputAudioTranscription" in setup
        self.output_tx = "outputAudioTranscription" in setup and self.modality == "AUDIO"
        self.resumption = "sessionResumption" in setup
        self.seed_allowed = bool(setup.get("historyConfig", {}).get("initialHistoryInClientContent", False))

        handle = setup.get("sessionResumption", {}).get("handle")
        restored = False
        if handle:
            source = emu.handles.source(handle)
            if source is not None and emu.concurrent_resume == "reject" and emu.live_conversations.get(source.id):
                raise WireError(1008, SESSION_NOT_FOUND)
            conversation = emu.handles.restore(handle)
            if conversation is None:
                raise WireError(1008, SESSION_NOT_FOUND)
            self.conversation = conversation
            restored = True
        instruction = setup.get("systemInstruction")
        if isinstance(instruction, Mapping):
            texts = [p.get("text", "") for p in instruction.get("parts", []) if isinstance(p, Mapping)]
            self.conversation.system_instruction = "\n".join(t for t in texts if t)
        self.conversation.connections.append(self.id)
        emu.conversations.append(self.conversation)
        emu.live_conversations.setdefault(self.conversation.id, set()).add(self.id)
        emu.connection_conversation[self.id] = self.conversation
        emu.setups[self.id] = setup

        complete: dict[str, Any] = {}
        if self.route.api == "vertex":
            complete["sessionId"] = self.conversation.id
        await self.send({"setupComplete": complete})
        if restored:
            emu.note(
                "state_restored",
                self.id,
                turns=len(self.conversation.history),
                resumed_from=self.conversation.resumed_from,
            )
        if self.resumption and emu.resumption_update_on_setup:
            await self._send_handle()

    def _check_model(self, model: str) -> str:
        emu = self.emu
        known = emu.known_models
        if self.route.api == "vertex":
            parts = model.split("/")
            if (
                len(parts) < 8
                or parts[0] != "projects"
                or parts[2] != "locations"
                or parts[4:6] != ["publishers", "google"]
                or parts[6] != "models"
            ):
                raise WireError(1008, truncate_reason(f"Publisher Model `{model}` not found."))
            model_id = parts[7]
            if known is not None and model_id not in known:
                raise WireError(1008, truncate_reason(f"Publisher Model `{model}` not found."))
            return model_id
        model_id = model.removeprefix("models/")
        if not model.startswith("models/") or (known is not None and model_id not in known):
            raise WireError(
                1008,
                truncate_reason(
                    f"models/{model_id} is not found for API version {self.route.version}, or is not supported for "
                    "bidiGenerateContent. Call ModelService.ListModels to see the list of available models and "
                    "their supported methods."
                ),
            )
        return model_id

    def _check_tools(self, tools: list[Any], profile: Profile) -> None:
        for ti, tool in enumerate(tools):
            for di, decl in enumerate(tool.get("functionDeclarations", [])):
                if decl.get("behavior") == "NON_BLOCKING" and not profile.allow_non_blocking:
                    raise WireError(1007, INVALID_ARGUMENT)
                params = decl.get("parameters")
                if profile.reject_additional_properties and _find_key(params, "additionalProperties"):
                    raise WireError(
                        1007,
                        'Invalid JSON payload received. Unknown name "additionalProperties" at '
                        f"'setup.tools[{ti}].function_declarations[{di}].parameters': Cannot find field.",
                    )
                if "parametersJsonSchema" in decl and "parameters" not in decl:
                    self.json_schema_tools.add(str(decl.get("name", "")))

    # ================================================================== timers and faults
    def _start_timers(self) -> None:
        emu = self.emu
        for index, fault in emu.player.timed_faults():
            self.spawn(self._timed_fault(index, fault), "fault")
        if emu.session_lifetime_s is not None:
            self.spawn(self._lifetime(emu.session_lifetime_s, emu.go_away_time_left_s), "lifetime")

    async def _timed_fault(self, index: int, fault: Fault) -> None:
        assert fault.after_ms is not None
        await asyncio.sleep(fault.after_ms / 1000)
        if not self.closed and self.emu.player.take_timed(index):
            with contextlib.suppress(TurnAborted, ConnectionGone):
                await self.apply_fault(fault)

    async def _lifetime(self, lifetime: float, time_left: float) -> None:
        await asyncio.sleep(lifetime)
        if not self.closed:
            await self.go_away(time_left)

    async def go_away(self, time_left: float) -> None:
        """Warn with ``goAway``; close with 1008 (or drop) if the client is still here when time is up."""
        with contextlib.suppress(ConnectionGone):
            await self.send({"goAway": {"timeLeft": duration(time_left)}})
        self.spawn(self._force_close(time_left), "go-away")

    async def _force_close(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.closed:
            return
        if self.emu.go_away_close == "drop":
            self.drop()
        else:
            await self.close(1008, GO_AWAY_ABORT)

    async def _message_faults(self) -> None:
        for fault in self.emu.player.faults_for_message(self.count):
            with contextlib.suppress(TurnAborted):
                await self.apply_fault(fault)

    async def _phase_faults(self, turn_index: int, phase: str) -> None:
        for fault in self.emu.player.faults_for_turn(turn_index, phase):
            await self.apply_fault(fault)
            if self.closed:
                raise ConnectionGone

    async def apply_fault(self, fault: Fault) -> None:
        """Inject one Scenario fault in Gemini's terms (errors are close frames on this protocol)."""
        self.emu.record("fault", {"kind": fault.kind, "code": fault.code}, self.id)
        kind = fault.kind
        if kind == "close":
            code = _close_code(fault.code, 1011)
            if code == 1006:
                self.drop()
            else:
                await self.close(code, fault.message or DEFAULT_REASONS.get(code, "Internal error occurred."))
        elif kind == "error":
            code = _close_code(fault.code, 0)
            if code:  # a close code: the server's way to report a fatal error
                await self.close(code, fault.message or DEFAULT_REASONS.get(code, "Internal error occurred."))
            else:
                # Otherwise the turn-level way: the model ends its turn early with a reason; the session lives.
                reason = str(fault.code or "").upper()
                await self.send(
                    {
                        "serverContent": {
                            "turnComplete": True,
                            "turnCompleteReason": reason if reason in TURN_FAILURES else "RESPONSE_REJECTED",
                        }
                    }
                )
                self.generating = False
                raise TurnAborted
        elif kind == "malformed":
            with contextlib.suppress(ConnectionGone):
                await self.send_raw('{"serverContent": {"modelTurn": {"parts": [', None)
        elif kind == "delay":
            self._stall_until = time.monotonic() + fault.delay_ms / 1000
        elif kind == "expire":
            await self.close(1008, fault.message or GO_AWAY_ABORT)
        elif kind == "go_away":
            left = fault.delay_ms / 1000 if fault.delay_ms else self.emu.fault_go_away_time_left_s
            await self.go_away(left)

    # ================================================================== client messages
    async def _handle(self, message: dict[str, Any]) -> None:
        fast = fast_audio(message)
        if fast is not None:
            self.emu.record("realtimeInput.audio", message, self.id)
            await self._on_audio(fast[0], fast[1])
            return
        name, body = normalize(message, self.ctx)
        kind = name
        if name == "realtimeInput" and body:
            kind = "realtimeInput." + ",".join(body)
        self.emu.record(kind, message, self.id)
        if name == "setup":
            raise WireError(1007, INVALID_ARGUMENT)  # setup is allowed once
        if name == "realtimeInput":
            await self._on_realtime_input(body)
        elif name == "clientContent":
            await self._on_client_content(body)
        elif name == "toolResponse":
            await self._on_tool_response(body)
        elif name == "contextUpdate":
            instruction = body.get("systemInstruction")
            if isinstance(instruction, Mapping):
                self.conversation.system_instruction = "\n".join(
                    p.get("text", "") for p in instruction.get("parts", []) if isinstance(p, Mapping)
                )

    async def _on_realtime_input(self, body: dict[str, Any]) -> None:
        vertex = self.route.api == "vertex"
        if "activityStart" in body:
            await self._on_activity_start()
        if "audio" in body:
            blob = body["audio"]
            await self._on_audio(blob.get("mimeType", ""), blob.get("data", ""))
        if "video" in body:
            self._on_video(body["video"])
        if body.get("mediaChunks"):
            blob = body["mediaChunks"][0]  # deprecated field: only the first element counts
            mime = str(blob.get("mimeType", ""))
            if mime.startswith("audio/"):
                await self._on_audio(mime, blob.get("data", ""))
            else:
                self._on_video(blob)
        if "text" in body:
            if vertex:
                raise WireError(1007, INVALID_ARGUMENT)
            await self._on_text(body["text"])
        if "activityEnd" in body:
            await self._on_activity_end()
        if body.get("audioStreamEnd"):
            if vertex:
                raise WireError(1007, INVALID_ARGUMENT)
            if self.vad is not None:
                event = self.vad.force_stop()
                self.vad.reset()
                if event is not None:
                    await self._on_vad(event)

    async def _on_audio(self, mime: str, data: str) -> None:
        if not mime.lower().startswith("audio/pcm"):
            raise WireError(1007, f"Unsupported MIME type for realtime audio: {mime}. {INVALID_ARGUMENT}")
        raw = decode_bytes(data, "realtime_input.audio.data")
        if len(raw) % 2:
            raw = raw[:-1]
        pcm = PcmData.from_bytes(raw, parse_rate(mime, VAD_RATE))
        self.audio_ms += pcm.duration_ms
        self.emu.audio_received_ms += pcm.duration_ms
        if pcm.sample_rate != VAD_RATE:
            resampler = self._resampler
            if resampler is None:
                resampler = self._resampler = Resampler(VAD_RATE, 1)
            pcm = resampler.process(pcm)
        if self.manual:
            if self.activity_open:
                self._activity_audio.append(pcm)
            return
        vad = self.vad
        assert vad is not None
        for event in vad.process(pcm):
            await self._on_vad(event)

    async def _on_vad(self, event: VadEvent) -> None:
        if event.kind == "start":
            if self.voice_activity:
                await self._send_voice_activity("ACTIVITY_START", event.at_ms)
            await self._user_activity("speech")
            return
        if self.voice_activity:
            await self._send_voice_activity("ACTIVITY_END", event.at_ms)
        self._prompt_audio_ms += event.speech_ms
        turn = self.emu.player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
        self._start_turn(turn)

    async def _send_voice_activity(self, kind: str, at_ms: float) -> None:
        await self.send(
            {"serverContent": {}, "voiceActivity": {"type": kind, "audioOffset": duration(round(at_ms / 1000, 3))}}
        )

    def _on_video(self, blob: Mapping[str, Any]) -> None:
        mime = str(blob.get("mimeType", ""))
        if not mime.startswith("image/"):
            raise WireError(1007, f"Unsupported MIME type for realtime video: {mime}. {INVALID_ARGUMENT}")
        data = decode_bytes(blob.get("data", ""), "realtime_input.video.data")
        width, height = image_size(data)
        self._images += 1
        jpeg = mime == "image/jpeg" and data[:2] == b"\xff\xd8"
        self.emu.note("video_frame", self.id, width=width, height=height, size=len(data), mime_type=mime, jpeg=jpeg)

    async def _on_text(self, text: str) -> None:
        self.emu.note("text_in", self.id, text=text)
        self.emu.note("response_requested", self.id, how="realtimeInput.text")
        self.conversation.history.append(Turn("user", text, data="text"))
        self._prompt_chars += len(text)
        await self._user_activity("text")
        self._start_turn(self.emu.player.next_turn("text", text=text))

    async def _on_activity_start(self) -> None:
        if not self.manual:
            raise WireError(1007, INVALID_ARGUMENT)  # activity signals need automatic detection disabled
        if self.activity_open:
            return
        self.activity_open = True
        self._activity_audio = []
        if self.voice_activity:
            await self._send_voice_activity("ACTIVITY_START", self.audio_ms)
        await self._user_activity("activity")

    async def _on_activity_end(self) -> None:
        if not self.manual:
            raise WireError(1007, INVALID_ARGUMENT)
        if not self.activity_open:
            return
        self.activity_open = False
        chunks, self._activity_audio = self._activity_audio, []
        if not chunks:
            # What the real server does with an empty activity: end the turn, then refuse the session.
            with contextlib.suppress(ConnectionGone):
                await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": {}})
            raise WireError(1007, "Precondition check failed.")
        speech = PcmData.concat(chunks)
        if self.voice_activity:
            await self._send_voice_activity("ACTIVITY_END", self.audio_ms)
        self.emu.note("response_requested", self.id, how="activityEnd")
        self._prompt_audio_ms += speech.duration_ms
        self._start_turn(self.emu.player.next_turn("speech", speech=speech, speech_ms=speech.duration_ms))

    async def _on_client_content(self, body: dict[str, Any]) -> None:
        profile = self.profile
        assert profile is not None
        if profile.client_content_seed_only and (not self.seed_allowed or self.conversation.model_turns > 0):
            raise WireError(1007, INVALID_ARGUMENT)
        last_user = ""
        for content in body.get("turns", []):
            role = str(content.get("role", "user"))
            text = "".join(str(p.get("text", "")) for p in content.get("parts", []) if isinstance(p, Mapping))
            self.conversation.history.append(Turn("model" if role == "model" else "user", text, data="client_content"))
            self._prompt_chars += len(text)
            if role != "model":
                last_user = text
        if self.generating and not self.no_interruption:
            await self._interrupt("client_content")  # any clientContent interrupts a generation
        if body.get("turnComplete"):
            self.emu.note("text_in", self.id, text=last_user)
            self.emu.note("response_requested", self.id, how="clientContent")
            self._start_turn(self.emu.player.next_turn("text", text=last_user))

    async def _on_tool_response(self, body: dict[str, Any]) -> None:
        vertex = self.route.api == "vertex"
        for response in body.get("functionResponses", []):
            call_id = response.get("id")
            if call_id is None:
                if not vertex:
                    raise WireError(1007, INVALID_ARGUMENT)  # ids are required on the Developer API
                call_id = next((cid for cid, name in self.pending.items() if name == response.get("name")), None)
            if call_id not in self.pending:
                if call_id in self._cancelled_calls:
                    continue  # crossed our toolCallCancellation on the wire: a legitimate race, ignored
                if self.emu.unknown_tool_response == "close":
                    raise WireError(1007, INVALID_ARGUMENT)
                continue
            name = self.pending.pop(call_id)
            output = response.get("response")
            self.emu.note("tool_result", self.id, call_id=call_id, output=output, tool_name=name)
            self.conversation.history.append(
                Turn("tool", json.dumps(output, default=str), "tool_result", {"id": call_id, "name": name})
            )
        if not self.pending:
            self.emu.note("response_requested", self.id, how="toolResponse")
            self._tools_answered.set()

    async def _user_activity(self, source: str) -> None:
        """New user input: interrupt a running generation (unless NO_INTERRUPTION)."""
        if self.no_interruption:
            return
        if self.generating:
            await self._interrupt(source)
        elif self.emu.late_interrupt and time.monotonic() < self.playing_until and source == "speech":
            # the client is presumably still playing the last reply
            self.playing_until = 0.0
            await self.send({"serverContent": {"interrupted": True}})
            self.emu.note("barge_in", self.id, source=source, late=True)

    async def _interrupt(self, source: str) -> None:
        task = self.turn_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionGone):
                await task
        self.generating = False
        if self.pending:
            await self.send({"toolCallCancellation": {"ids": list(self.pending)}})
            self._cancelled_calls.update(self.pending)
            self.pending.clear()
        await self.send({"serverContent": {"interrupted": True}})
        await self.send({"serverContent": {"turnComplete": True}})
        self.emu.note("barge_in", self.id, source=source)
        if self.resumption:
            await self._send_handle()

    # ================================================================== model turns
    def _start_turn(self, turn: PlannedTurn | None) -> None:
        if turn is None:
            return
        previous = self.turn_task
        self.generating = True
        self.turn_task = asyncio.get_running_loop().create_task(
            self._play_turn(turn, previous), name=f"gemini-emulator-turn-{self.id}"
        )

    async def _play_turn(self, turn: PlannedTurn, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})  # NO_INTERRUPTION: the new turn waits for the old one
        self.generating = True
        self._sent_text = []
        started = time.monotonic()
        audio_ms = 0.0
        try:
            await self._phase_faults(turn.index, "before_reply")
            if turn.trigger == "speech":
                if self.input_tx and turn.user_transcript:
                    for piece in PlannedReply(turn.user_transcript, None, 100, 0, 0).text_chunks():
                        await self.send({"serverContent": {"inputTranscription": {"text": piece}}})
                self.conversation.history.append(Turn("user", turn.user_transcript, data="speech"))
            audio_ms = await self._stream(turn, turn.reply, first=True)
            if turn.reply.tool_calls:
                await self._call_tools(turn, turn.reply)
                if turn.after_tools is not None:
                    audio_ms += await self._stream(turn, turn.after_tools, first=False)
                    if turn.after_tools.tool_calls:
                        await self._call_tools(turn, turn.after_tools)
            await self.send({"serverContent": {"generationComplete": True}})
            if self.emu.turn_complete_delay == "playback":
                await asyncio.sleep(max(0.0, audio_ms / 1000 - (time.monotonic() - started)))
            await self._finish_turn(audio_ms)
            self.playing_until = started + audio_ms / 1000
            await self._phase_faults(turn.index, "after_reply")
        except asyncio.CancelledError:
            self._remember_model_text()
            raise
        except (ConnectionGone, TurnAborted):
            self._remember_model_text()
        finally:
            if self.turn_task is asyncio.current_task():
                self.generating = False

    def _remember_model_text(self) -> None:
        text = "".join(self._sent_text)
        self._sent_text = []
        if text:
            self.conversation.history.append(Turn("model", text))
            self.conversation.model_turns += 1

    async def _finish_turn(self, audio_ms: float) -> None:
        profile = self.profile
        assert profile is not None
        chars = len("".join(self._sent_text))
        self._remember_model_text()
        vertex = self.route.api == "vertex"
        if profile.usage_at_generation_start:
            usage: dict[str, Any] = {}
        else:
            usage = usage_metadata(
                prompt_audio_ms=self._prompt_audio_ms,
                prompt_chars=self._prompt_chars,
                prompt_images=self._images,
                response_audio_ms=audio_ms,
                response_chars=chars,
                vertex=vertex,
            )
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": usage})
        self.generating = False
        if self.resumption:
            await self._send_handle()

    async def _send_handle(self) -> None:
        handle = self.emu.handles.issue(self.conversation)
        await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    async def _stream(self, turn: PlannedTurn, reply: PlannedReply, *, first: bool) -> float:
        """Send one reply segment: audio parts (or text parts) with the transcript alongside."""
        profile = self.profile
        assert profile is not None
        if profile.usage_at_generation_start:
            await self.send(
                {
                    "serverContent": {},
                    "usageMetadata": usage_metadata(
                        prompt_audio_ms=self._prompt_audio_ms,
                        prompt_chars=self._prompt_chars,
                        prompt_images=self._images,
                        vertex=self.route.api == "vertex",
                        prompt_only=True,
                    ),
                }
            )
        if reply.first_chunk_delay_ms:
            await asyncio.sleep(reply.first_chunk_delay_ms / 1000)
        audio = self.modality == "AUDIO"
        chunks = list(reply.audio_chunks()) if audio else []
        pieces = reply.text_chunks()
        interval = reply.chunk_interval_ms / 1000
        total_ms = 0.0
        mid = len(chunks) // 2
        if not chunks:
            if first:
                await self._phase_faults(turn.index, "mid_reply")
            for piece in pieces:
                if audio:
                    if self.output_tx:
                        await self.send({"serverContent": {"outputTranscription": {"text": piece}}})
                else:
                    await self.send({"serverContent": {"modelTurn": {"parts": [{"text": piece}]}}})
                self._sent_text.append(piece)
                await asyncio.sleep(interval)
            return 0.0
        # spread the transcript over the audio: piece j goes out with chunk j * n / len(pieces)
        schedule: dict[int, list[str]] = {}
        for j, piece in enumerate(pieces):
            schedule.setdefault(j * len(chunks) // len(pieces), []).append(piece)
        for i, chunk in enumerate(chunks):
            if first and i == mid:
                await self._phase_faults(turn.index, "mid_reply")
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(chunk)}}
            said = schedule.get(i, [])
            if profile.combine_parts and said and self.output_tx:
                await self.send(
                    {"serverContent": {"modelTurn": {"parts": [part]}, "outputTranscription": {"text": "".join(said)}}}
                )
            else:
                await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
                if self.output_tx:
                    for piece in said:
                        await self.send({"serverContent": {"outputTranscription": {"text": piece}}})
            self._sent_text.extend(said)
            total_ms += chunk.duration_ms
            await asyncio.sleep(interval)  # 0 still yields, so barge-in audio is read meanwhile
        return total_ms

    async def _call_tools(self, turn: PlannedTurn, reply: PlannedReply) -> None:
        vertex = self.route.api == "vertex"
        calls: list[dict[str, Any]] = []
        self._tools_answered.clear()
        for call in reply.tool_calls:
            args = (
                {}
                if (
                    call.name in self.json_schema_tools
                    and self.profile
                    and self.profile.json_schema_tool_args == "empty"
                )
                else call.arguments
            )
            entry: dict[str, Any] = {"name": call.name, "args": args}
            if not (vertex and self.emu.vertex_omit_call_ids):
                entry["id"] = call.call_id
            calls.append(entry)
            self.pending[call.call_id] = call.name
            self.conversation.history.append(Turn("model", call.name, "tool_call", {"id": call.call_id, "args": args}))
        await self.send({"toolCall": {"functionCalls": calls}})
        if self.resumption and self.emu.resumption_update_during_tool:
            await self.send({"sessionResumptionUpdate": {"resumable": False}})
        await self._tools_answered.wait()


def _close_code(value: object, default: int) -> int:
    try:
        code = int(str(value)) if value is not None else default
    except ValueError:
        return default
    return code if 1000 <= code <= 4999 else default


def _b64(pcm: PcmData) -> str:
    import base64

    return base64.b64encode(pcm.to_bytes()).decode("ascii")
