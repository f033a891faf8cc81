"""The audio path of N Nova sessions against a bare client of the same SDK (issue 15). Not a test.

    .venv/bin/python plugins/nova/benchmarks/audio_path.py [--sessions 20] [--seconds 20] [--profile]

Both clients stream a microphone at real-time pace in 20 ms chunks (4 s of speech, then 1 s of silence,
so the emulator's echo model answers each utterance with spoken audio) to the Nova emulator, which runs in
a child process so its work is not counted:

* **ours**: ``NovaRealtime`` (core's stamping, hooks, the batcher: 60 ms events, the handler's output);
* **bare**: ``aws_sdk_bedrock_runtime`` used directly, the way its examples do: one signed ``audioInput``
  event per 20 ms chunk (``json.dumps`` + base64), and a reader that decodes every output event.

It prints client-process CPU (including awscrt's native thread) in ms per session-second for both, the
ratio, and the CPU per signed event. ``--profile`` adds a cProfile of our per-chunk path (one session, no
pacing), to see which costs are the plugin's and which core's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import multiprocessing
import os
import pstats
import time
import uuid
from typing import Any

CHUNK_MS = 20


def _serve(queue: Any) -> None:
    from realtime_nova.emulator import NovaEmulator

    async def main() -> None:
        async with NovaEmulator(verify_signatures=False, idle_timeout_s=None, stream_limit_s=3600) as emulator:
            options = emulator.session_options()
            options["aws_secret_access_key"] = options["aws_secret_access_key"].get_secret_value()
            queue.put(json.dumps(options))
            await asyncio.Event().wait()

    asyncio.run(main())


def _mic() -> list[Any]:
    """One 5 s cycle of 20 ms chunks: 4 s of speech, 1 s of silence."""
    from realtime_core import PcmData

    speech = list(PcmData.tone(4000, 16000, frequency=220.0, amplitude=0.3).chunks(CHUNK_MS))
    return speech + list(PcmData.silence(1000, 16000).chunks(CHUNK_MS))


async def _paced(send: Any, seconds: float) -> int:
    """Send the microphone at real-time pace for ``seconds``; returns the chunks sent."""
    cycle = _mic()
    start = time.monotonic()
    sent = 0
    while sent * CHUNK_MS / 1000 < seconds:
        await send(cycle[sent % len(cycle)])
        sent += 1
        await asyncio.sleep(max(0.0, start + sent * CHUNK_MS / 1000 - time.monotonic()))
    return sent


class Ours:
    """``NovaRealtime``: core's stamping and hooks, the batcher (60 ms events), the handler's output."""

    def __init__(self, options: dict[str, Any]) -> None:
        from realtime_core import RealtimeAudioOutputEvent
        from realtime_nova import NovaRealtime

        self.session = NovaRealtime(**options)
        self.received = 0
        self.session.on(RealtimeAudioOutputEvent)(self._count)

    def _count(self, event: Any) -> None:
        self.received += 1

    async def open(self) -> None:
        await self.session.connect()

    async def send(self, pcm: Any) -> None:
        await self.session.simple_audio_response(pcm)

    async def close(self) -> None:
        await self.session.close()


class Bare:
    """The SDK without this plugin, as its samples use it: one signed event per chunk, a reader that
    decodes every output event."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.received = 0
        self.prompt, self.audio = str(uuid.uuid4()), str(uuid.uuid4())

    async def open(self) -> None:
        from aws_sdk_bedrock_runtime.client import AsyncBedrockRuntimeClient
        from aws_sdk_bedrock_runtime.config import AsyncBedrockRuntimeConfig
        from aws_sdk_bedrock_runtime.models import (
            BidirectionalInputPayloadPart,
            InvokeModelWithBidirectionalStreamInputChunk,
            InvokeModelWithBidirectionalStreamOperationInput,
        )
        from smithy_aws_core.identity import AWSCredentialsIdentity
        from smithy_http.aio.crt import AWSCRTHTTPClient, AWSCRTHTTPClientConfig

        options = self.options
        identity = AWSCredentialsIdentity(access_key_id=options["aws_access_key_id"],
                                          secret_access_key=options["aws_secret_access_key"])  # fmt: skip

        class Static:  # a smithy identity resolver over fixed keys
            async def get_identity(self, *, properties: Any) -> Any:
                return identity

        resolver: Any = Static()

        config = await AsyncBedrockRuntimeConfig.resolve(
            endpoint_uri=options["endpoint_uri"], region=options["region"], aws_credentials_identity_resolver=resolver,
            transport=AWSCRTHTTPClient(client_config=AWSCRTHTTPClientConfig(force_http_2=True)),
        )  # fmt: skip
        self.client = AsyncBedrockRuntimeClient(config=config)
        self.stream = await self.client.invoke_model_with_bidirectional_stream(
            InvokeModelWithBidirectionalStreamOperationInput(model_id="amazon.nova-2-sonic-v1:0")
        )
        self.Part, self.Chunk = BidirectionalInputPayloadPart, InvokeModelWithBidirectionalStreamInputChunk
        prompt, audio = self.prompt, self.audio
        await self.event({"sessionStart": {"inferenceConfiguration": {"maxTokens": 1024, "topP": 0.9, "temperature": 0.7}}})
        await self.event({"promptStart": {"promptName": prompt, "textOutputConfiguration": {"mediaType": "text/plain"},
                                          "audioOutputConfiguration": {"mediaType": "audio/lpcm", "sampleRateHertz": 24000,
                                                                       "sampleSizeBits": 16, "channelCount": 1,
                                                                       "voiceId": "matthew", "encoding": "base64",
                                                                       "audioType": "SPEECH"}}})  # fmt: skip
        await self.event({"contentStart": {"promptName": prompt, "contentName": audio, "type": "AUDIO",
                                           "interactive": True, "role": "USER",
                                           "audioInputConfiguration": {"mediaType": "audio/lpcm", "sampleRateHertz": 16000,
                                                                       "sampleSizeBits": 16, "channelCount": 1,
                                                                       "audioType": "SPEECH", "encoding": "base64"}}})  # fmt: skip
        _, self.receiver = await self.stream.await_output()
        self.reader = asyncio.ensure_future(self.read())

    async def event(self, body: dict[str, Any]) -> None:
        part = self.Part(bytes_=json.dumps({"event": body}).encode())
        await self.stream.input_stream.send(self.Chunk(value=part))

    async def read(self) -> None:
        while (item := await self.receiver.receive()) is not None:
            doc = json.loads(item.value.bytes_ or b"{}")  # pyright: ignore[reportAttributeAccessIssue, reportUnknownArgumentType]
            body = doc["event"].get("audioOutput")
            if body is not None:
                base64.b64decode(body["content"])
                self.received += 1

    async def send(self, pcm: Any) -> None:
        content = base64.b64encode(pcm.samples.tobytes()).decode()
        await self.event({"audioInput": {"promptName": self.prompt, "contentName": self.audio, "content": content}})

    async def close(self) -> None:
        await self.event({"contentEnd": {"promptName": self.prompt, "contentName": self.audio}})
        await self.event({"promptEnd": {"promptName": self.prompt}})
        await self.event({"sessionEnd": {}})
        await self.stream.input_stream.close()
        try:
            await asyncio.wait_for(self.reader, 5)
        except Exception:  # the benchmark only needs the CPU figures
            self.reader.cancel()
        await self.client.close()


async def run(kind: str, options: dict[str, Any], sessions: int, seconds: float) -> tuple[float, int, int]:
    """Open every client, then measure CPU while all of them stream at real-time pace (not the setup and
    teardown), then close them."""
    clients: list[Any] = [Ours(options) if kind == "ours" else Bare(options) for _ in range(sessions)]
    await asyncio.gather(*(c.open() for c in clients))
    start_cpu, start = time.process_time(), time.monotonic()
    sent = await asyncio.gather(*(_paced(c.send, seconds) for c in clients))
    cpu = time.process_time() - start_cpu
    wall = time.monotonic() - start
    received = sum(c.received for c in clients)
    await asyncio.gather(*(c.close() for c in clients))
    return cpu * 1000 / (sessions * wall), sum(sent), received


_OWNERS = [("realtime_nova", "realtime-nova (the plugin)"), ("realtime_core", "realtime-core"),
           ("awscrt", "awscrt"), ("smithy", "smithy / AWS SDK"), ("aws_sdk", "smithy / AWS SDK"),
           ("~", "C built-ins (json, base64, hmac, CRT calls)")]


def profile(options: dict[str, Any]) -> None:
    from realtime_core import PcmData
    from realtime_nova import NovaRealtime

    async def main() -> None:
        session = NovaRealtime(**options, silence_fill_ms=60_000)
        await session.connect()
        chunk = PcmData.tone(20, 16000)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3000):
            await session.simple_audio_response(chunk)
        profiler.disable()
        await session.close()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(20)
        # own time by who it belongs to
        groups: dict[str, float] = {}
        for (path, _, function), (_, _, own, _, _) in stats.stats.items():  # pyright: ignore[reportAttributeAccessIssue, reportUnknownVariableType]
            if "poll" in function:  # waiting for the socket, not work
                continue
            owner = next((name for key, name in _OWNERS if key in path), "other (asyncio, stdlib)")
            groups[owner] = groups.get(owner, 0.0) + own
        total = sum(groups.values())
        for owner, own in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(f"{owner:>28}: {own / 3000 * 1e6:7.1f} us per chunk ({own / total:5.1%})")

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    try:
        options = json.loads(queue.get(timeout=60))
        os.environ["SSL_CERT_FILE"] = options["ca_file"]  # the bare client trusts the emulator's CA this way
        from realtime_nova.client import load_sdk_now

        load_sdk_now()
        figures = {}
        for kind in ("bare", "ours"):
            per_s, sent, received = asyncio.run(run(kind, options, args.sessions, args.seconds))
            figures[kind] = per_s
            print(f"{kind:>4}: {per_s:6.2f} ms CPU per session-second "
                  f"({args.sessions} sessions, {sent} chunks sent, {received} audio events received while streaming)")  # fmt: skip
        print(f"ratio ours/bare: {figures['ours'] / figures['bare']:.2f}")
        # the bare client signs one event per 20 ms chunk: its cost per signed event
        print(f"bare: ~{figures['bare'] / (1000 / CHUNK_MS):.3f} ms CPU per signed 20 ms event (including output)")
        if args.profile:
            profile(options)
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
