"""The rules of Nova's input events, checked one event at a time: order, names, fields, limits.

:class:`PromptRules` keeps the protocol state of one stream (the prompt, its content blocks, the history)
and raises :class:`~realtime_core.emulator.BadMessage` (code ``validationException``) for anything the
service would refuse; the connection answers that with an in-stream ``validationException`` and ends the
stream, as Bedrock does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from realtime_core.emulator import BadMessage

from ..models import ModelInfo

__all__ = ["HISTORY_ORDER_MESSAGE", "Content", "PromptRules", "ToolDeclaration"]

HISTORY_ORDER_MESSAGE = "Chat history should be sent completely before streaming audio."
_VOICE_RATES = (8000, 16000, 24000)
_FIXED_AUDIO = {"mediaType": "audio/lpcm", "sampleSizeBits": 16, "channelCount": 1, "encoding": "base64"}


def _reject(message: str) -> BadMessage:
    return BadMessage("validationException", message)


@dataclass
class Content:
    """One input content block."""

    name: str
    type: str
    role: str
    interactive: bool
    rate: int = 16000
    tool_use_id: str | None = None
    parts: list[str] = field(default_factory=list[str])

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True)
class ToolDeclaration:
    name: str
    description: str | None
    parameters: dict[str, Any] | None


class PromptRules:
    """One stream's input protocol state (see the module docstring).

    :param model: the model's profile (voices, history limits, what it accepts).
    :param input_sample_rates: accepted ``audioInputConfiguration.sampleRateHertz`` values.
    :param nova1_turn_detection: accept ``turnDetectionConfiguration`` from Nova Sonic 1 too.
    """

    def __init__(self, model: ModelInfo, *, input_sample_rates: tuple[int, ...], nova1_turn_detection: bool) -> None:
        self.model = model
        self.input_sample_rates = input_sample_rates
        self.nova1_turn_detection = nova1_turn_detection
        self.phase = "new"  # new → session → prompt → prompt_ended → session_ended
        self.prompt_name = ""
        self.output_rate = 24000
        self.voice = ""
        self.max_tokens: int | None = None
        self.temperature: float | None = None
        self.tools: list[ToolDeclaration] = []
        self.contents: dict[str, Content] = {}
        self.open_block: Content | None = None  # the open TEXT/TOOL block (one at a time)
        self.audio_block: Content | None = None
        self.audio_started = False
        self.system_prompt: str | None = None
        self.history: list[tuple[str, str]] = []
        self._history_bytes = 0
        self.issued_tool_ids: set[str] = set()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _need(body: dict[str, Any], key: str, kind: type | tuple[type, ...], event: str) -> Any:
        value = body.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise _reject(f"{event}.{key} is missing or has the wrong type")
        return value

    def _check_prompt(self, body: dict[str, Any], event: str) -> None:
        if self.phase != "prompt":
            raise _reject(f"{event} before promptStart (or after promptEnd)")
        if body.get("promptName") != self.prompt_name:
            raise _reject(f"{event}.promptName {body.get('promptName')!r} does not match the open prompt")

    # ------------------------------------------------------------------ events
    def session_start(self, body: dict[str, Any]) -> None:
        if self.phase != "new":
            raise _reject("sessionStart must be the first event and appear once")
        inference = self._need(body, "inferenceConfiguration", dict, "sessionStart")
        max_tokens = inference.get("maxTokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= 10_000:
            raise _reject("sessionStart.inferenceConfiguration.maxTokens must be an integer in [1, 10000]")
        for key in ("topP", "temperature"):
            value = inference.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise _reject(f"sessionStart.inferenceConfiguration.{key} must be a number in [0, 1]")
        if "endpointingSensitivity" in body:
            raise _reject("endpointingSensitivity must be set under turnDetectionConfiguration")
        turn = body.get("turnDetectionConfiguration")
        if turn is not None:
            if not self.model.turn_detection and not self.nova1_turn_detection:
                raise _reject("turnDetectionConfiguration is not supported by this model")
            if not isinstance(turn, dict) or turn.get("endpointingSensitivity") not in ("HIGH", "MEDIUM", "LOW"):
                raise _reject("turnDetectionConfiguration.endpointingSensitivity must be HIGH, MEDIUM or LOW")
        self.max_tokens = max_tokens
        self.temperature = float(inference["temperature"])
        self.phase = "session"

    def prompt_start(self, body: dict[str, Any]) -> None:
        if self.phase != "session":
            raise _reject("promptStart must follow sessionStart and appear once")
        name = self._need(body, "promptName", str, "promptStart")
        if not name:
            raise _reject("promptStart.promptName must not be empty")
        self._need(body, "textOutputConfiguration", dict, "promptStart")
        audio = self._need(body, "audioOutputConfiguration", dict, "promptStart")
        for key, value in _FIXED_AUDIO.items():
            if audio.get(key) != value:
                raise _reject(f"promptStart.audioOutputConfiguration.{key} must be {value!r}")
        if audio.get("sampleRateHertz") not in _VOICE_RATES:
            raise _reject(f"audioOutputConfiguration.sampleRateHertz must be one of {_VOICE_RATES}")
        voice = audio.get("voiceId")
        if voice not in self.model.voices:
            raise _reject(f"Received invalid voiceId: {voice!r}. Please check AWS documentation for valid voiceIds.")
        self.tools = self._tools(body)
        self.prompt_name = name
        self.output_rate = int(audio["sampleRateHertz"])
        self.voice = str(voice)
        self.phase = "prompt"

    def _tools(self, body: dict[str, Any]) -> list[ToolDeclaration]:
        config = body.get("toolConfiguration")
        if config is None:
            return []
        if not isinstance(config, dict) or not isinstance(config.get("tools"), list):
            raise _reject("promptStart.toolConfiguration.tools must be a list")
        tools: list[ToolDeclaration] = []
        for entry in config["tools"]:  # pyright: ignore[reportUnknownVariableType]
            spec: Any = entry.get("toolSpec") if isinstance(entry, dict) else None  # pyright: ignore[reportUnknownMemberType]
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):  # pyright: ignore[reportUnknownMemberType]
                raise _reject("each tool needs toolSpec.name")
            schema_holder: Any = spec.get("inputSchema")  # pyright: ignore[reportUnknownMemberType]
            schema = schema_holder.get("json") if isinstance(schema_holder, dict) else None  # pyright: ignore[reportUnknownMemberType]
            if not isinstance(schema, str):
                raise _reject(f"tool {spec['name']!r}: inputSchema.json must be a JSON string")
            try:
                parameters = json.loads(schema)
            except ValueError:
                raise _reject(f"tool {spec['name']!r}: inputSchema.json is not valid JSON") from None
            description: Any = spec.get("description")  # pyright: ignore[reportUnknownMemberType]
            tools.append(ToolDeclaration(str(spec["name"]), description if isinstance(description, str) else None,
                                         parameters if isinstance(parameters, dict) else None))  # fmt: skip
        output = body.get("toolUseOutputConfiguration")
        if tools and (not isinstance(output, dict) or output.get("mediaType") != "application/json"):  # pyright: ignore[reportUnknownMemberType]
            raise _reject("promptStart.toolUseOutputConfiguration.mediaType must be application/json with tools")
        return tools

    def content_start(self, body: dict[str, Any]) -> Content:
        self._check_prompt(body, "contentStart")
        name = self._need(body, "contentName", str, "contentStart")
        if not name or name in self.contents:
            raise _reject(f"contentStart.contentName {name!r} must be new and non-empty")
        kind, role = body.get("type"), body.get("role")
        interactive = self._need(body, "interactive", bool, "contentStart")
        if kind in ("TEXT", "TOOL") and self.open_block is not None:
            raise _reject(f"content {self.open_block.name!r} is still open")
        block = Content(name=name, type=str(kind), role=str(role), interactive=interactive)
        if kind == "TEXT":
            self._text_start(body, block)
        elif kind == "AUDIO":
            self._audio_start(body, block)
        elif kind == "TOOL":
            if role != "TOOL":
                raise _reject("TOOL content must have role TOOL")
            config = body.get("toolResultInputConfiguration")
            tool_use_id = config.get("toolUseId") if isinstance(config, dict) else None  # pyright: ignore[reportUnknownMemberType]
            if not isinstance(tool_use_id, str) or tool_use_id not in self.issued_tool_ids:
                raise _reject(f"toolResultInputConfiguration.toolUseId {tool_use_id!r} was not issued by the model")
            block.tool_use_id = tool_use_id
            self.open_block = block
        else:
            raise _reject(f"contentStart.type must be TEXT, AUDIO or TOOL, got {kind!r}")
        self.contents[name] = block
        return block

    def _text_start(self, body: dict[str, Any], block: Content) -> None:
        config = body.get("textInputConfiguration")
        if not isinstance(config, dict) or config.get("mediaType") != "text/plain":  # pyright: ignore[reportUnknownMemberType]
            raise _reject("contentStart.textInputConfiguration.mediaType must be text/plain")
        role = block.role
        if role not in ("SYSTEM", "USER", "ASSISTANT", "SYSTEM_SPEECH"):
            raise _reject(f"invalid role {role!r} for TEXT content")
        if not block.interactive and role in ("USER", "ASSISTANT") and self.audio_started:
            raise _reject(HISTORY_ORDER_MESSAGE)
        if role == "SYSTEM" and (self.history or self.audio_started):
            raise _reject("the system prompt must come before history and audio")
        if block.interactive and role != "USER":
            raise _reject("interactive text must have role USER")
        self.open_block = block

    def _audio_start(self, body: dict[str, Any], block: Content) -> None:
        if block.role != "USER" or not block.interactive:
            raise _reject("audio input must be interactive USER content")
        if self.audio_block is not None:
            raise _reject("an audio content block is already open")
        config = body.get("audioInputConfiguration")
        if not isinstance(config, dict):
            raise _reject("contentStart.audioInputConfiguration is required for AUDIO")
        for key, value in _FIXED_AUDIO.items():
            if config.get(key) != value:  # pyright: ignore[reportUnknownMemberType]
                raise _reject(f"audioInputConfiguration.{key} must be {value!r}")
        rate: Any = config.get("sampleRateHertz")  # pyright: ignore[reportUnknownMemberType]
        if rate not in self.input_sample_rates:
            raise _reject(f"audioInputConfiguration.sampleRateHertz must be one of {self.input_sample_rates}")
        block.rate = int(rate)
        self.audio_started = True
        self.audio_block = block

    def _block(self, body: dict[str, Any], event: str, kind: str) -> Content:
        self._check_prompt(body, event)
        name = body.get("contentName")
        block = self.open_block if kind != "AUDIO" else self.audio_block
        if block is None or block.name != name or block.type != kind:
            raise _reject(f"{event}.contentName {name!r} does not name an open {kind} content block")
        return block

    def text_input(self, body: dict[str, Any]) -> None:
        block = self._block(body, "textInput", "TEXT")
        block.parts.append(self._need(body, "content", str, "textInput"))

    def tool_result(self, body: dict[str, Any]) -> None:
        block = self._block(body, "toolResult", "TOOL")
        content = self._need(body, "content", str, "toolResult")
        try:
            json.loads(content)
        except ValueError:
            raise _reject("Tool Response parsing error: toolResult.content must be a JSON string") from None
        block.parts.append(content)

    def audio_input(self, body: dict[str, Any]) -> tuple[Content, bytes]:
        if self.open_block is not None:
            raise _reject(HISTORY_ORDER_MESSAGE)
        block = self._block(body, "audioInput", "AUDIO")
        content = body.get("content")
        if not isinstance(content, str):
            raise _reject("audioInput.content must be a base64 string")
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise _reject("audioInput.content is not valid base64") from None
        if len(raw) % 2:
            raise _reject("audioInput.content must hold 16-bit samples")
        return block, raw

    def content_end(self, body: dict[str, Any]) -> Content:
        """The block that ended (an audio block, or a TEXT/TOOL block whose text is complete)."""
        self._check_prompt(body, "contentEnd")
        name = body.get("contentName")
        block = self.contents.get(name) if isinstance(name, str) else None
        if block is None or (block is not self.open_block and block is not self.audio_block):
            raise _reject(f"contentEnd.contentName {name!r} does not name an open content block")
        if block is self.audio_block:
            self.audio_block = None
            return block
        self.open_block = None
        if block.type == "TOOL":
            self.issued_tool_ids.discard(block.tool_use_id or "")
        elif block.role == "SYSTEM":
            self.system_prompt = block.text
        elif not block.interactive and block.role in ("USER", "ASSISTANT"):
            self._add_history(block.role, block.text)
        return block

    def _add_history(self, role: str, text: str) -> None:
        size = len(text.encode("utf-8"))
        if not self.history and role != "USER":
            raise _reject("Chat history must start with a USER message")
        if size > self.model.history_message_bytes:
            raise _reject(f"a history message is {size} bytes; the limit is {self.model.history_message_bytes}")
        limit = self.model.history_max_messages
        if limit is not None and len(self.history) >= limit:
            raise _reject(f"chat history holds at most {limit} messages")
        total = self.model.history_total_bytes
        if total is not None and self._history_bytes + size > total:
            raise _reject(f"chat history holds at most {total} bytes")
        self.history.append((role, text))
        self._history_bytes += size

    def prompt_end(self, body: dict[str, Any]) -> None:
        self._check_prompt(body, "promptEnd")
        if self.open_block is not None or self.audio_block is not None:
            raise _reject("promptEnd while a content block is still open")
        self.phase = "prompt_ended"

    def session_end(self, body: dict[str, Any]) -> None:
        if self.phase != "prompt_ended":
            raise _reject("sessionEnd must follow promptEnd")
        self.phase = "session_ended"
