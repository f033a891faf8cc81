"""``NovaRealtime``: Amazon Nova Sonic as a :class:`realtime_core.Realtime` session.

One Bedrock bidirectional stream carries a whole conversation: ``sessionStart``, ``promptStart``, the
system prompt (and replayed history), then ONE interactive USER AUDIO content block that stays open for
the microphone (silence is sent while the app sends nothing, so the stream never idles out), with text
and tool-result blocks interleaved. Each stream has its transport (:class:`~realtime_nova.transport.NovaStream`)
and its handler (:class:`~realtime_nova.handler.NovaHandler`), which reports to this session through the
public :class:`~realtime_nova.handler.NovaHost` names.

Bedrock ends a stream after 8 minutes. Before that, at a quiet moment, the session renews it through core
(``core.renew``): the new stream is opened and primed (history, the user's unconfirmed audio) before the
old one is closed. After an unexpected drop, core replays the audio the model had not confirmed (by
transcribing the user); this session never re-sends that audio itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any, ClassVar

from realtime_core import Capabilities, InterruptInfo, ReconnectContext, SessionState, ToolResult
from realtime_core.audio import PcmData
from realtime_core.audio_buffers import AudioBatcher, AudioReplayBuffer, pcm16_bytes
from realtime_core.credentials import SecretStr
from realtime_core.errors import ConfigurationError, ConnectionFailedError, ProtocolError, RealtimeError
from realtime_core.session import Realtime

from . import protocol
from .capabilities import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, build_capabilities
from .client import ClientSettings, NovaClient, preload_sdk
from .config import make_config
from .handler import NovaHandler
from .history import replayable_history
from .models import DEFAULT_MODEL, DEFAULT_VOICE, STREAM_LIMIT_SECONDS
from .transport import NovaStream, Prompt, first_error

__all__ = ["NovaRealtime"]

log = logging.getLogger("realtime_nova.session")

_MAX_AUDIO_EVENT_MS = 1000.0  # split big app chunks: 1 s per event stays far below 1 MB
_MAX_TEXT_BYTES = 900_000  # an event's bytes are limited to 1,000,000 (JSON included)


class NovaRealtime(Realtime):
    """A realtime session with Amazon Nova Sonic on Bedrock.

    :param model: ``amazon.nova-2-sonic-v1:0`` (default), ``amazon.nova-2-5-sonic``, ``amazon.nova-sonic-v1:0``
        (legacy: end of life 2026-09-14), or an inference profile id / ARN of one.
    :param voice: a voice of that model (``matthew``, ``tiffany``, ``amy``...).
    :param region: AWS region; default from ``AWS_REGION``/``AWS_DEFAULT_REGION``/the profile, else ``us-east-1``.
    :param endpoint_uri: override the endpoint (``https://`` only: the stream needs HTTP/2 over TLS).
    :param aws_access_key_id: explicit access key id (long-term IAM keys or temporary ones); without it the
        standard AWS chain is used (environment, profile, SSO, IMDS...).
    :param aws_secret_access_key: the secret key that goes with ``aws_access_key_id``.
    :param aws_session_token: the session token of temporary credentials (none for long-term keys).
    :param profile: the shared-config profile to resolve configuration and credentials from.
    :param ca_file: a PEM CA certificate to trust instead of the system store (a private endpoint or the
        emulator). Verification is never disabled.
    :param max_tokens: the reply length cap (1-10000).
    :param temperature: sampling temperature (0-1).
    :param top_p: nucleus sampling (0-1).
    :param endpointing_sensitivity: Nova 2 turn detection: ``HIGH`` (ends turns fastest), ``MEDIUM`` or
        ``LOW``; None leaves the model's default.
    :param tool_choice: Nova's ``toolChoice`` (``{"auto": {}}``, ``{"any": {}}`` or ``{"tool": {"name": ...}}``).
    :param output_sample_rate: rate of the model's audio (24000, 16000 or 8000).
    :param stream_limit_s: the service's stream limit (480 s); renewal is timed from it.
    :param renew_after_s: renew at the first quiet moment after this many seconds (default 75% of the limit).
    :param renew_deadline_s: renew at this age even mid-reply (default 90% of the limit).
    :param replay_history: replay the conversation into a new stream (renewal or reconnect).
    :param resend_audio_ms: on a planned renewal, the user audio the model has not transcribed yet, up to
        this much, goes to the new stream too, so an utterance cut by the switch is heard whole (after an
        unexpected drop core replays it instead).
    :param silence_fill_ms: when the app sends no audio for this long, send that much silence (Nova ends
        idle streams, and its cross-modal input needs audio flowing).
    :param audio_batch_ms: send microphone audio in events of at least this much (0: one event per chunk).
        Every event is signed and framed by the SDK, which costs far more than the audio in it; audio never
        waits longer than this for its batch to fill.
    :param liveness_probe: while the model sends nothing, probe the connection so a dead network path is
        noticed within ``liveness_timeout`` (awscrt has no HTTP/2 PING; sends are bounded either way).
    :param core_options: ``instructions``, ``tools``, ``reconnect``, timeouts... (see :class:`Realtime`).
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
        liveness_probe: bool = True,
        **core_options: Any,
    ) -> None:
        super().__init__(**core_options)
        self._config = make_config(
            model=model,
            voice=voice,
            region=region,
            endpoint_uri=endpoint_uri,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            profile=profile,
            ca_file=ca_file,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            endpointing_sensitivity=endpointing_sensitivity,
            tool_choice=tool_choice,
            output_sample_rate=output_sample_rate,
            stream_limit_s=stream_limit_s,
            renew_after_s=renew_after_s,
            renew_deadline_s=renew_deadline_s,
            replay_history=replay_history,
            resend_audio_ms=resend_audio_ms,
            silence_fill_ms=silence_fill_ms,
            audio_batch_ms=audio_batch_ms,
            liveness_probe=liveness_probe,
        )
        if self._config.info.lifecycle == "legacy":
            log.warning(
                "nova: %s is a legacy model (end of life %s); move to %s",
                model,
                self._config.info.end_of_life,
                DEFAULT_MODEL,
            )
        preload_sdk()  # the SDK is large: its import starts now rather than inside connect()'s timeout
        self._client: NovaClient | None = None
        self._prompt: Prompt | None = None
        self._retiring: set[Prompt] = set()
        self._opening: set[NovaStream] = set()
        self._closing = False
        # user audio the model has not transcribed yet, for a planned renewal's new stream
        self._tail = AudioReplayBuffer(self._config.resend_audio_ms)
        self._batcher = AudioBatcher(
            INPUT_SAMPLE_RATE, min_ms=self._config.audio_batch_ms, max_ms=_MAX_AUDIO_EVENT_MS, on_due=self._flush_later
        )
        self._last_audio_at = 0.0
        self.silence_sent_ms = 0.0
        """Silence this session sent on its own while the app sent no audio (see ``silence_fill_ms``)."""

    # ================================================================== configuration and NovaHost
    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(
            self._config.info,
            output_sample_rate=self._config.output_sample_rate,
            reconnection=self._core.reconnect_policy.max_attempts > 0,
            stream_limit_s=self._config.stream_limit_s,
        )

    @property
    def model(self) -> str:
        return self._config.model

    @property
    def voice(self) -> str:
        return self._config.voice

    @property
    def output_sample_rate(self) -> int:
        return self._config.output_sample_rate

    @property
    def closing(self) -> bool:
        return self._closing

    def user_turn_heard(self) -> None:
        self._tail.clear()

    def stream_ended(self, handler: NovaHandler, error: RealtimeError | None) -> None:
        prompt = self._prompt
        if self._closing or prompt is None or prompt.handler is not handler or prompt.ending:
            return
        if error is None:
            error = ConnectionFailedError("Nova ended the stream unexpectedly", provider=self.provider_name)
        self._core.connection_lost(error, reason=str(error.message))

    def __repr__(self) -> str:
        return f"<NovaRealtime model={self.model} voice={self.voice} session_id={self.session_id} state={self.state}>"

    # ================================================================== connect / close
    def _new_client(self, *, tls_checked: bool) -> NovaClient:
        config = self._config
        settings = ClientSettings(
            region=config.region,
            endpoint_uri=config.endpoint_uri,
            credentials=config.credentials,
            profile=config.profile,
            ca_file=config.ca_file,
            connect_timeout=self._core.connect_timeout,
            keepalive=self._core.liveness_timeout,
        )
        return NovaClient(settings, tls_checked=tls_checked)

    async def connect(self) -> None:
        self._closing = False
        config = self._config
        self._client = self._new_client(tls_checked=False)
        self._prompt = await self._open([])
        self._last_audio_at = time.monotonic()
        self._core.spawn(self._keepalive(), name="nova-keepalive")
        self._core.spawn(self._renewal_timer(self._prompt), name="nova-renewal")
        self._emit_connected_event(
            {"model": config.model, "voice": config.voice, "region": config.region, "endpoint": config.endpoint_uri},
            self.capabilities,
        )

    async def close(self) -> None:
        self._closing = True
        pending = self._batcher.take()
        prompt, self._prompt = self._prompt, None
        if pending is not None and prompt is not None and prompt.open:  # the user's last words
            with contextlib.suppress(RealtimeError):
                await self._send_samples(prompt, pending)
        streams = [p.stream for p in (prompt, *self._retiring) if p is not None] + list(self._opening)
        if prompt is not None:
            await self._finish(prompt, wait_s=min(3.0, self._core.close_timeout * 0.6))
        for old in list(self._retiring):
            await old.stream.abort()
        for stream in list(self._opening):  # a stream a cancelled connect() left half open
            await stream.abort()
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        for stream in streams:  # the SDK calls in flight end once the client is closed
            await stream.released(1.0)

    async def _open(self, history: list[tuple[str, str]]) -> Prompt:
        """Open a stream, send the setup (and ``history``), open the audio block and start reading."""
        client = self._client
        if client is None:
            raise ConnectionFailedError("the session is not connected", provider=self.provider_name, recoverable=False)
        await client.prepare()
        check = await self._start_tls_check(client)
        duplex = await client.open_stream(self.model)
        stream = NovaStream(client.sdk, duplex, self._core, probe=client.probe if self._config.liveness_probe else None)
        self._opening.add(stream)  # from here on, close() can release it
        prompt = Prompt(stream, NovaHandler(self._core, self))
        config = self._config
        events = [
            protocol.session_start(
                max_tokens=config.max_tokens,
                top_p=config.top_p,
                temperature=config.temperature,
                endpointing_sensitivity=config.endpointing_sensitivity,
            ),
            protocol.prompt_start(
                prompt_name=prompt.prompt_name,
                voice=config.voice,
                output_sample_rate=config.output_sample_rate,
                tools=[(t.name, t.description, t.parameters) for t in self.tools],
                tool_choice=config.tool_choice,
            ),
        ]
        if self.instructions:
            events += protocol.text_block(prompt.prompt_name, str(uuid.uuid4()), "SYSTEM", self.instructions, interactive=False)
        for role, text in history:
            events += protocol.text_block(prompt.prompt_name, str(uuid.uuid4()), role, text, interactive=False)
        events.append(protocol.audio_content_start(prompt.prompt_name, prompt.audio_content, INPUT_SAMPLE_RATE))
        try:
            # The SDK buffers few events before the connection is up, and HTTP errors surface only from the
            # response: send, await the response and check TLS together, failing on whichever fails first.
            async with asyncio.TaskGroup() as group:
                group.create_task(stream.await_output())
                group.create_task(stream.send(*events))
                if check is not None:
                    group.create_task(_join(check))
        except BaseExceptionGroup as group_error:
            await stream.abort()
            self._opening.discard(stream)
            raise first_error(group_error) from None
        except BaseException:
            await stream.abort()
            self._opening.discard(stream)
            raise
        self._opening.discard(stream)
        stream.start(prompt.handler)
        return prompt

    async def _start_tls_check(self, client: NovaClient) -> asyncio.Task[None] | None:
        """The first connection's TLS check (see :meth:`NovaClient.check_tls`), started before the stream's
        own connection, which waits until the check's TCP connection is up."""
        if not client.tls_unchecked:
            return None
        tcp_up = asyncio.Event()
        check = self._core.spawn(client.check_tls(tcp_up), name="nova-tls-check", report_errors=False)
        up = asyncio.ensure_future(tcp_up.wait())
        try:
            await asyncio.wait({up, check}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
        if check.done():
            check.result()  # a verdict already: raise it
        return check

    async def _finish(self, prompt: Prompt, *, wait_s: float) -> None:
        """End a stream per protocol (audio contentEnd, promptEnd, sessionEnd, end frame), let the model
        finish, then release it. Tolerates a dead stream."""
        stream = prompt.stream
        prompt.ending = True
        try:
            async with asyncio.timeout(wait_s):
                if not stream.dead:
                    await stream.send(
                        protocol.content_end(prompt.prompt_name, prompt.audio_content),
                        protocol.prompt_end(prompt.prompt_name),
                        protocol.session_end(),
                    )
                    await stream.close_input()
                    await stream.finished.wait()  # the model finishes what it was saying, then ends the stream
        except (TimeoutError, RealtimeError) as exc:
            log.debug("nova: stream did not end cleanly: %r", exc)
        await stream.abort()

    # ================================================================== input
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        self._tail.add(pcm)  # kept for a planned renewal until the model has transcribed the turn
        self._last_audio_at = time.monotonic()
        data = self._batcher.push(pcm)
        if data is not None:
            await self._send_samples(self._require("send audio"), data)

    def _flush_later(self) -> None:
        """The batcher's timer: a batch the app left unfinished has waited ``audio_batch_ms``. While the
        stream is being replaced it stays for :meth:`_reconnect`."""
        if self._sendable():
            self._core.spawn(self._flush(), name="nova-audio-flush", report_errors=False)

    async def _flush(self) -> None:
        pending = self._batcher.take()
        prompt = self._prompt
        if pending is not None and prompt is not None:
            # a failed send already told core (the stream's end), which replays what it had not confirmed
            with contextlib.suppress(ConnectionFailedError):
                await self._send_samples(prompt, pending)

    async def _send_samples(self, prompt: Prompt, samples: memoryview) -> None:
        """Send PCM16 bytes as ``audioInput`` events of at most a second each."""
        encoder, stream = prompt.encoder, prompt.stream
        await self._batcher.send_pieces(samples, lambda piece: stream.send(encoder.encode(piece)))

    async def simple_response(self, text: str) -> None:
        if len(text.encode("utf-8")) > _MAX_TEXT_BYTES:
            raise ConfigurationError(
                f"text is too long for one Nova event (max {_MAX_TEXT_BYTES} bytes)", provider=self.provider_name
            )
        prompt = self._require("send text")
        await prompt.stream.send(
            *protocol.text_block(prompt.prompt_name, str(uuid.uuid4()), "USER", text, interactive=True)
        )

    def _require(self, operation: str) -> Prompt:
        prompt = self._prompt
        if prompt is None or not prompt.open:
            raise ConnectionFailedError(f"cannot {operation}: the Nova stream is not open", provider=self.provider_name)
        return prompt

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        prompt = self._require("send tool results")
        handler = prompt.handler
        lost = [r for r in results if r.call_id not in handler.issued_tools]
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
        sent: set[str] = set()
        for result in results:
            if result.call_id in handler.issued_tools:
                events += protocol.tool_result_block(prompt.prompt_name, str(uuid.uuid4()), result.call_id, result.as_json())
                sent.add(result.call_id)
        if events:
            await prompt.stream.send(*events)
        handler.tool_results_sent(sent)

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        # Nova has no cancel or truncate message: the model stops on its own when it hears the user, and
        # core already drops the rest of the cut response. Nothing to send.
        return None

    # ================================================================== background tasks
    async def _keepalive(self) -> None:
        """Keep audio flowing: silence goes out while the app sends nothing (Nova ends streams without
        input, and its barge-in and turn detection run on the audio it receives)."""
        fill = self._config.silence_fill_ms / 1000
        silence: bytes | None = None
        silence_for: Prompt | None = None
        while True:
            await asyncio.sleep(fill)
            prompt = self._prompt
            if self._batcher.pending_bytes or prompt is None or not self._sendable():
                continue
            if time.monotonic() - self._last_audio_at < fill:
                continue
            if silence_for is not prompt:  # the event names differ per stream
                silence, silence_for = prompt.encoder.encode(PcmData.silence(fill * 1000, INPUT_SAMPLE_RATE).samples), prompt
            self._last_audio_at = time.monotonic()
            assert silence is not None
            with contextlib.suppress(ConnectionFailedError):  # the stream's end already told core
                await prompt.stream.send(silence)
                self.silence_sent_ms += fill * 1000

    def _sendable(self) -> bool:
        prompt = self._prompt
        return prompt is not None and prompt.open and self.state is SessionState.CONNECTED

    async def _renewal_timer(self, prompt: Prompt) -> None:
        """Renew before the stream limit: at the first quiet moment after ``renew_after_s``, or at
        ``renew_deadline_s`` whatever is happening."""
        config, stream = self._config, prompt.stream
        # counted from now (the stream is ready): a slow setup must not make renewals follow each other at once
        await asyncio.sleep(config.renew_after_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, stream.opened_at + config.renew_deadline_s - time.monotonic())):
                while not (prompt.handler.idle.is_set() and not self._core.tool_calls_running):
                    await prompt.handler.idle.wait()
                    await asyncio.sleep(0.05)
        if prompt is self._prompt and prompt.open:
            log.debug("nova: renewing the stream after %.1f s", time.monotonic() - stream.opened_at)
            self._core.renew("stream limit")

    # ================================================================== reconnection
    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        if self._client is None:
            raise ConnectionFailedError("the session is closed", provider=self.provider_name, recoverable=False)
        history, complete = replayable_history(ctx.history, self._config.info) if self._config.replay_history else ([], False)
        old = self._prompt
        if not ctx.planned:
            # The old connection may be dead without knowing it (a black hole): awscrt would put the new stream
            # on it again. A new client makes a new connection; the old one is closed.
            stale, self._client = self._client, self._new_client(tls_checked=True)
            self._core.spawn(stale.close(), name="nova-close-client", report_errors=False)
        prompt = await self._open(history)
        try:
            if ctx.planned:
                # Core replays only what arrived during the switch: the start of an utterance the old stream
                # had not transcribed yet goes to the new stream from here.
                # Both end with the newest sample: the longer one holds the other.
                tail, pending = self._tail.joined(), self._batcher.take()
                if tail is not None and tail.duration_ms >= (len(pending) * 500.0 / INPUT_SAMPLE_RATE if pending is not None else 0.0):
                    await self._send_samples(prompt, pcm16_bytes(tail))
                elif pending is not None:
                    await self._send_samples(prompt, pending)
            else:
                self._batcher.clear()  # core replays everything the model had not confirmed, this too
        except BaseException:
            await self._finish(prompt, wait_s=0.5)
            raise
        if prompt.stream.dead:
            await self._finish(prompt, wait_s=0.2)
            raise ConnectionFailedError("the new Nova stream failed while starting", provider=self.provider_name)
        self._prompt = prompt
        self._last_audio_at = time.monotonic()
        self._core.spawn(self._renewal_timer(prompt), name="nova-renewal")
        if old is not None and old is not prompt:
            old.handler.retired = True
            self._retiring.add(old)
            self._core.spawn(self._retire(old, graceful=ctx.planned), name="nova-retire")
        return complete

    async def _retire(self, prompt: Prompt, *, graceful: bool) -> None:
        """Close a replaced stream: let a reply in progress finish (bounded by the stream's remaining
        life), then end it per protocol."""
        try:
            if graceful and prompt.open:
                left = prompt.stream.opened_at + self._config.stream_limit_s - 1.0 - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, min(left, 60.0))):
                        await prompt.handler.idle.wait()
            await self._finish(prompt, wait_s=2.0 if graceful else 0.2)
        finally:
            self._retiring.discard(prompt)


async def _join(task: asyncio.Task[None]) -> None:
    await task
