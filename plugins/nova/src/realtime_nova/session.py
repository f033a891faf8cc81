"""``NovaRealtime``: Amazon Nova Sonic as a :class:`realtime_core.Realtime` session.

One Bedrock bidirectional stream carries a whole conversation: ``sessionStart``, ``promptStart``, the
system prompt (and replayed history), then ONE interactive USER AUDIO content block that stays open for
the microphone (silence is sent while the app sends nothing, so the stream never idles out), with text
and tool-result blocks interleaved. The model's events are mapped onto core's emitters.

Bedrock ends a stream after 8 minutes. Before that, at a quiet moment, the session renews it through
core's ``_renew``: the new stream is opened and primed (history, trailing user audio) before the old one
is closed, so the user notices nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from typing import Any, ClassVar

import numpy as np

from realtime_core import Capabilities, ReconnectContext, SessionState, ToolResult
from realtime_core.audio import PcmData
from realtime_core.audio_buffers import AudioBatcher, AudioReplayBuffer, pcm16_bytes
from realtime_core.credentials import SecretStr
from realtime_core.errors import (
    ConfigurationError,
    ConnectionFailedError,
    ProtocolError,
    RealtimeError,
)
from realtime_core.session import InterruptInfo

from . import protocol
from .capabilities import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, build_capabilities
from .client import Credentials, NovaClient
from .history import replayable_history
from .link import Link, outcome
from .models import DEFAULT_MODEL, DEFAULT_VOICE, STREAM_LIMIT_SECONDS, model_info
from .output import NovaOutput

__all__ = ["NovaRealtime"]

log = logging.getLogger("realtime_nova.session")

_MAX_AUDIO_EVENT_MS = 1000.0  # split big app chunks: 1 s per event stays far below 1 MB
_MAX_TEXT_BYTES = 900_000  # an event's bytes are limited to 1,000,000 (JSON included)
_SENSITIVITIES = ("HIGH", "MEDIUM", "LOW")


class NovaRealtime(NovaOutput):
    """A realtime session with Amazon Nova Sonic on Bedrock.

    :param model: ``amazon.nova-2-sonic-v1:0`` (default), ``amazon.nova-sonic-v1:0``, or an inference
        profile id / ARN of one.
    :param voice: a voice of that model (``matthew``, ``tiffany``, ``amy``...).
    :param region: AWS region; default from ``AWS_REGION``/``AWS_DEFAULT_REGION``/the profile, else
        ``us-east-1``. The model must be enabled there.
    :param endpoint_uri: override the endpoint (``https://`` only: the stream needs HTTP/2 over TLS).
    :param aws_access_key_id: / :param aws_secret_access_key: / :param aws_session_token: explicit
        credentials; without them the standard AWS chain is used (environment, profile, SSO, IMDS...).
    :param profile: the shared-config profile to resolve configuration and credentials from.
    :param ca_file: a PEM CA certificate to trust instead of the system store (a private endpoint or
        the emulator). Verification is never disabled.
    :param max_tokens: / :param temperature: / :param top_p: inference settings.
    :param endpointing_sensitivity: Nova 2 Sonic's turn detection: ``HIGH`` (ends turns fastest),
        ``MEDIUM`` or ``LOW``; None leaves the model's default.
    :param tool_choice: Nova's ``toolChoice`` (``{"auto": {}}``, ``{"any": {}}`` or
        ``{"tool": {"name": ...}}``).
    :param output_sample_rate: rate of the model's audio (24000, 16000 or 8000).
    :param stream_limit_s: the service's stream limit (480 s); renewal is timed from it.
    :param renew_after_s: renew at the first quiet moment after this many seconds (default 75% of the
        limit); :param renew_deadline_s: renew at this age even mid-reply (default 90% of the limit).
    :param replay_history: replay the conversation into a new stream (renewal or reconnect).
    :param resend_audio_ms: user audio since the last finished user turn, up to this much, is sent
        again on a new stream so an utterance cut by the switch is heard whole.
    :param silence_fill_ms: when the app sends no audio for this long, send that much silence (Nova ends
        idle streams, and its cross-modal input needs audio flowing).
    :param audio_batch_ms: send microphone audio in events of at least this much (0: one event per
        chunk). Every event is signed and framed by the SDK, which costs far more than the audio itself,
        so batching 20 ms chunks into 60 ms events cuts the per-session CPU by about two thirds. Audio
        never waits longer than this for its batch to fill (core's ``AudioBatcher``).

    Core options (``instructions``, ``tools``, ``reconnect``, timeouts...) are passed through.
    """

    provider_name: ClassVar[str] = "nova"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        voice: str = DEFAULT_VOICE,
        region: str | None = None,
        endpoint_uri: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | SecretStr | None = None,
        aws_session_token: str | SecretStr | None = None,
        profile: str | None = None,
        ca_file: str | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.7,
        top_p: float = 0.9,
        endpointing_sensitivity: str | None = None,
        tool_choice: dict[str, Any] | None = None,
        output_sample_rate: int = OUTPUT_SAMPLE_RATE,
        stream_limit_s: float = STREAM_LIMIT_SECONDS,
        renew_after_s: float | None = None,
        renew_deadline_s: float | None = None,
        replay_history: bool = True,
        resend_audio_ms: float = 5000.0,
        silence_fill_ms: float = 200.0,
        audio_batch_ms: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._model = model
        self._info = model_info(model)
        voice_id = voice.lower() if isinstance(voice, str) else voice  # pyright: ignore[reportUnnecessaryIsInstance]
        if voice_id not in self._info.voices:
            raise ConfigurationError(
                f"voice {voice!r} is not a {self._info.family} voice; use one of {', '.join(self._info.voices)}",
                provider=self.provider_name,
            )
        self._voice = voice_id
        if endpointing_sensitivity is not None:
            sens = str(endpointing_sensitivity).upper()
            if sens not in _SENSITIVITIES:
                raise ConfigurationError(
                    "endpointing_sensitivity must be HIGH, MEDIUM or LOW", provider=self.provider_name
                )
            if not self._info.turn_detection:
                raise ConfigurationError(
                    f"endpointing_sensitivity is a Nova 2 Sonic setting; {model} does not take it",
                    provider=self.provider_name,
                )
            endpointing_sensitivity = sens
        self._sensitivity = endpointing_sensitivity
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 10_000:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError("max_tokens must be an integer between 1 and 10000", provider=self.provider_name)
        for label, value in (("temperature", temperature), ("top_p", top_p)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(f"{label} must be a number between 0 and 1", provider=self.provider_name)
        self._inference = (max_tokens, float(top_p), float(temperature))
        self._tool_choice = tool_choice
        if output_sample_rate not in (8000, 16000, 24000):
            raise ConfigurationError("output_sample_rate must be 8000, 16000 or 24000", provider=self.provider_name)
        self._out_rate = output_sample_rate
        if endpoint_uri is not None and not str(endpoint_uri).startswith("https://"):
            raise ConfigurationError(
                "endpoint_uri must be https://: Bedrock's bidirectional stream needs HTTP/2, which AWS's client "
                "only negotiates over TLS (use ca_file= to trust a private CA)",
                provider=self.provider_name,
            )
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ConfigurationError(f"ca_file {ca_file!r} does not exist", provider=self.provider_name)
        self._credentials: Credentials | None = None
        if aws_access_key_id or aws_secret_access_key:
            if not (aws_access_key_id and aws_secret_access_key):
                raise ConfigurationError(
                    "pass aws_access_key_id and aws_secret_access_key together (or neither, to use the AWS chain)",
                    provider=self.provider_name,
                )
            self._credentials = Credentials(
                access_key_id=str(aws_access_key_id),
                secret_access_key=_secret(aws_secret_access_key),
                session_token=_secret(aws_session_token) if aws_session_token else None,
            )
        elif aws_session_token:
            raise ConfigurationError(
                "aws_session_token needs aws_access_key_id and aws_secret_access_key", provider=self.provider_name
            )
        self._region = region
        self._endpoint_uri = endpoint_uri
        self._profile = profile
        self._ca_file = ca_file
        if stream_limit_s <= 0:
            raise ConfigurationError("stream_limit_s must be positive", provider=self.provider_name)
        self._stream_limit = float(stream_limit_s)
        self._renew_after = float(renew_after_s) if renew_after_s is not None else 0.75 * self._stream_limit
        self._renew_deadline = float(renew_deadline_s) if renew_deadline_s is not None else 0.9 * self._stream_limit
        if not 0 < self._renew_after <= self._renew_deadline < self._stream_limit:
            raise ConfigurationError(
                "need 0 < renew_after_s <= renew_deadline_s < stream_limit_s", provider=self.provider_name
            )
        self._replay_history = replay_history
        if resend_audio_ms < 0 or silence_fill_ms <= 0 or audio_batch_ms < 0:
            raise ConfigurationError(
                "resend_audio_ms and audio_batch_ms must be >= 0, silence_fill_ms > 0", provider=self.provider_name
            )
        self._resend_ms = float(resend_audio_ms)
        self._fill_s = float(silence_fill_ms) / 1000
        self._client: NovaClient | None = None
        self._link: Link | None = None
        self._retiring: set[Link] = set()
        self._closing = False
        # user audio since the last finished user turn, re-sent on a new stream (empty when resend_ms is 0)
        self._tail = AudioReplayBuffer(self._resend_ms)
        self._batcher = AudioBatcher(
            INPUT_SAMPLE_RATE, min_ms=float(audio_batch_ms), max_ms=_MAX_AUDIO_EVENT_MS, on_due=self._flush_later
        )
        self._last_audio_at = 0.0
        self._quiet = asyncio.Event()
        self._quiet.set()

    # ================================================================== configuration
    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(
            self._info,
            output_sample_rate=self._out_rate,
            reconnection=self._core.reconnect_policy.max_attempts > 0,
            stream_limit_s=self._stream_limit,
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def voice(self) -> str:
        return self._voice

    def __repr__(self) -> str:
        return f"<NovaRealtime model={self._model} voice={self._voice} session_id={self.session_id} state={self.state}>"

    # ================================================================== connect / close
    async def connect(self) -> None:
        self._closing = False
        self._client = NovaClient(
            region=self._region,
            endpoint_uri=self._endpoint_uri,
            credentials=self._credentials,
            profile=self._profile,
            ca_file=self._ca_file,
        )
        self._link = await self._open_link([])
        self._last_audio_at = time.monotonic()
        self._core.spawn(self._keepalive(), name="nova-keepalive")
        self._core.spawn(self._renewal_timer(self._link), name="nova-renewal")
        self._emit_connected_event(
            {"model": self._model, "voice": self._voice, "region": self._region, "endpoint": self._endpoint_uri},
            self.capabilities,
        )

    async def close(self) -> None:
        self._closing = True
        pending = self._batcher.take()
        if pending is not None:  # the user's last words
            await self._send_samples(pending)
        link, self._link = self._link, None
        retiring = list(self._retiring)
        if link is not None:
            await self._finish_link(link, wait_s=min(3.0, self._core.close_timeout * 0.6))
        for old in retiring:
            await old.stream.abort()
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _open_link(self, history: list[tuple[str, str]]) -> Link:
        """Open a stream, send the setup (and ``history``) and open the audio block."""
        client = self._client
        if client is None:
            raise ConnectionFailedError("the session is not connected", provider=self.provider_name, recoverable=False)
        stream = await client.open_stream(self._model)
        prompt = str(uuid.uuid4())
        audio = str(uuid.uuid4())
        link = Link(
            stream=stream,
            prompt_name=prompt,
            audio_content=audio,
            encoder=protocol.AudioEventEncoder(prompt, audio),
            opened_at=time.monotonic(),
        )
        samples = int(INPUT_SAMPLE_RATE * self._fill_s)
        link.silence = link.encoder.encode(np.zeros(samples, dtype=np.int16))
        link.idle.set()
        max_tokens, top_p, temperature = self._inference
        events = [
            protocol.session_start(
                max_tokens=max_tokens, top_p=top_p, temperature=temperature, endpointing_sensitivity=self._sensitivity
            ),
            protocol.prompt_start(
                prompt_name=prompt,
                voice=self._voice,
                output_sample_rate=self._out_rate,
                tools=[(t.name, t.description, t.parameters) for t in self.tools],
                tool_choice=self._tool_choice,
            ),
        ]
        if self.instructions:
            events += protocol.text_block(prompt, str(uuid.uuid4()), "SYSTEM", self.instructions, interactive=False)
        for role, text in history:
            events += protocol.text_block(prompt, str(uuid.uuid4()), role, text, interactive=False)
        events.append(protocol.audio_content_start(prompt, audio, INPUT_SAMPLE_RATE))
        # The SDK buffers few events before the connection is up, and HTTP errors surface only from the
        # response: send and await the response together, failing on whichever fails first.
        output = self._core.spawn(outcome(stream.await_output()), name="nova-open")
        setup = self._core.spawn(outcome(self._send_all(link, events)), name="nova-setup")
        pending: set[asyncio.Task[Any]] = {output, setup}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    _, error = task.result()
                    if error is not None:
                        raise error
        except BaseException:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            link.dead = link.ending = True
            await stream.abort()
            raise
        link.receiver = self._core.spawn(self._receive_loop(link), name="nova-receive")
        return link

    async def _send_all(self, link: Link, events: list[bytes]) -> None:
        async with link.lock:
            for event in events:
                await link.stream.send(event)

    async def _finish_link(self, link: Link, *, wait_s: float) -> None:
        """End a stream per protocol (audio contentEnd, promptEnd, sessionEnd, end frame), let the model
        finish, then release it. Tolerates a dead stream."""
        try:
            async with asyncio.timeout(wait_s):
                if not link.dead:
                    async with link.lock:
                        if not link.ending:
                            link.ending = True
                            for event in (
                                protocol.content_end(link.prompt_name, link.audio_content),
                                protocol.prompt_end(link.prompt_name),
                                protocol.session_end(),
                            ):
                                await link.stream.send(event)
                    await link.stream.close_input()
                receiver = link.receiver
                if receiver is not None and not receiver.done():
                    await asyncio.wait({receiver})
        except (TimeoutError, RealtimeError) as exc:
            log.debug("nova: stream did not end cleanly: %r", exc)
        link.ending = link.dead = True
        await link.stream.abort()
        receiver = link.receiver
        if receiver is not None and not receiver.done() and receiver is not asyncio.current_task():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    # ================================================================== input
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        self._tail.add(pcm)  # kept for a new stream until the model has heard the turn to its end
        self._last_audio_at = time.monotonic()
        data = self._batcher.push(pcm)
        if data is not None:
            await self._send_samples(data)

    def _flush_later(self) -> None:
        """The batcher's timer: a batch the app left unfinished has waited ``audio_batch_ms``. While the
        stream is being replaced it stays for :meth:`_reconnect`, which sends it on the new stream."""
        if self._sendable():
            self._core.spawn(self._flush(), name="nova-audio-flush")

    async def _flush(self) -> None:
        pending = self._batcher.take()
        if pending is not None:
            await self._send_samples(pending)

    async def _send_samples(self, samples: memoryview, link: Link | None = None) -> None:
        """Send PCM16 bytes as ``audioInput`` events on ``link`` (default: the current stream), in events
        of at most a second."""
        link = link or self._link
        if link is None or link.ending:
            self._not_sent(self._batcher.to_pcm(samples))
            return
        encoder = link.encoder
        await self._batcher.send_pieces(
            samples, lambda piece: self._send_audio(link, encoder.encode(piece)), on_unsent=self._not_sent
        )

    async def _send_audio(self, link: Link, payload: bytes) -> bool:
        async with link.lock:
            if link.ending or link.dead:
                return False
            try:
                await link.stream.send(payload)
            except ConnectionFailedError as exc:
                self._link_failed(link, exc)
                return False
        return True

    def _not_sent(self, pcm: PcmData) -> None:
        # With the tail on, unsent audio is already kept and goes to the next stream; without it, core
        # buffers it for the reconnection (or reports it lost).
        if not self._resend_ms and pcm and not self._closing:
            self._core.unsent_audio(pcm)

    def _forget_tail(self) -> None:
        self._tail.clear()

    async def simple_response(self, text: str) -> None:
        if len(text.encode("utf-8")) > _MAX_TEXT_BYTES:
            raise ConfigurationError(
                f"text is too long for one Nova event (max {_MAX_TEXT_BYTES} bytes)", provider=self.provider_name
            )
        link = self._require_link("send text")
        events = protocol.text_block(link.prompt_name, str(uuid.uuid4()), "USER", text, interactive=True)
        await self._send_block(link, events)

    async def _send_block(self, link: Link, events: list[bytes]) -> None:
        # A text or tool block must not be split by audio events: hold the lock for the whole block.
        async with link.lock:
            if link.ending or link.dead:
                raise ConnectionFailedError("the Nova stream ended", provider=self.provider_name)
            try:
                for event in events:
                    await link.stream.send(event)
            except ConnectionFailedError as exc:
                self._link_failed(link, exc)
                raise

    def _require_link(self, operation: str) -> Link:
        link = self._link
        if link is None or link.ending or link.dead:
            raise ConnectionFailedError(f"cannot {operation}: the Nova stream is not open", provider=self.provider_name)
        return link

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        link = self._require_link("send tool results")
        lost = [r for r in results if r.call_id not in link.issued_tools]
        if lost:
            # Tool use ids belong to the stream that issued them; a replaced stream cannot take them.
            self._emit_error_event(
                ProtocolError(
                    f"results of {len(lost)} tool call(s) could not be delivered: the stream that asked for them ended",
                    provider=self.provider_name,
                ),
                context="tool results",
            )
        events: list[bytes] = []
        for result in results:
            if result.call_id in link.issued_tools:
                events += protocol.tool_result_block(
                    link.prompt_name, str(uuid.uuid4()), result.call_id, result.as_json()
                )
                link.issued_tools.discard(result.call_id)
        if events:
            await self._send_block(link, events)
        self._update_quiet()

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        # Nova has no cancel or truncate message: the model stops on its own when it hears the user, and
        # core already drops the rest of the cut response. Nothing to send.
        return None

    # ================================================================== background tasks
    async def _keepalive(self) -> None:
        """Keep audio flowing: silence goes out while the app sends nothing (Nova ends streams without
        input, and its barge-in and turn detection run on the audio it receives). A batch the app left
        unfinished is the batcher's timer's job (:meth:`_flush_later`)."""
        fill = self._fill_s
        silence = PcmData.silence(fill * 1000, INPUT_SAMPLE_RATE)
        while True:
            await asyncio.sleep(fill)
            link = self._link
            if self._batcher.pending_bytes or link is None or not self._sendable():
                continue
            if time.monotonic() - self._last_audio_at >= fill:
                self._last_audio_at = time.monotonic()
                self._tail.add(silence)
                await self._send_audio(link, link.silence)

    def _sendable(self) -> bool:
        link = self._link
        return link is not None and not link.ending and self.state is SessionState.CONNECTED

    async def _renewal_timer(self, link: Link) -> None:
        """Renew ``link`` before the stream limit: at the first quiet moment after ``renew_after_s``, or
        at ``renew_deadline_s`` whatever is happening."""
        await asyncio.sleep(max(0.0, link.opened_at + self._renew_after - time.monotonic()))
        deadline = link.opened_at + self._renew_deadline
        while not self._is_quiet(link):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._quiet.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._quiet.wait()
        if link is self._link and not link.dead:
            log.debug("nova: renewing the stream after %.1f s", time.monotonic() - link.opened_at)
            self._core.renew("stream limit")

    # ================================================================== reconnection
    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        if self._client is None:
            raise ConnectionFailedError("the session is closed", provider=self.provider_name, recoverable=False)
        history = replayable_history(ctx.history, self._info) if self._replay_history else []
        old = self._link
        link = await self._open_link(history)
        try:
            tail = self._tail.joined()
            if tail is not None:  # the start of an utterance the old stream had not finished hearing
                await self._send_samples(pcm16_bytes(tail), link)
                self._batcher.clear()  # the tail ends with them
            else:
                pending = self._batcher.take()
                if pending is not None:
                    await self._send_samples(pending, link)
        except BaseException:
            await self._finish_link(link, wait_s=0.5)
            raise
        if link.dead:
            await self._finish_link(link, wait_s=0.2)
            raise ConnectionFailedError("the new Nova stream failed while starting", provider=self.provider_name)
        self._link = link
        self._last_audio_at = time.monotonic()
        self._core.spawn(self._renewal_timer(link), name="nova-renewal")
        if old is not None and old is not link:
            old.retired = True
            self._retiring.add(old)
            self._core.spawn(self._retire(old, graceful=ctx.planned), name="nova-retire")
        return bool(history)

    async def _retire(self, link: Link, *, graceful: bool) -> None:
        """Close a replaced stream: let a reply in progress finish (bounded by the stream's remaining
        life), then end it per protocol."""
        try:
            if graceful and not link.dead and link.rid is not None:
                left = link.opened_at + self._stream_limit - 1.0 - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, min(left, 60.0))):
                        await link.idle.wait()
            await self._finish_link(link, wait_s=2.0 if graceful else 0.2)
        finally:
            self._retiring.discard(link)

    def _link_failed(self, link: Link, error: RealtimeError) -> None:
        if link.dead:
            return
        link.dead = True
        if link is self._link and not link.retired and not self._closing:
            self._core.connection_lost(error)


def _secret(value: str | SecretStr | None) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    return SecretStr(str(value or ""))
