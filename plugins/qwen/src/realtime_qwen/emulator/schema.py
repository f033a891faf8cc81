"""The DashScope session object on the server side: per-model defaults, validation and merge of ``session.update``.

:class:`DashScopeSchema` is the emulator's :class:`~realtime_openai_protocol.emulator.SessionRules`. An update
is validated completely before anything changes (one ``error`` and the whole update rejected); fields absent
from an update keep their value (clients send partial updates), ``null`` clears (``turn_detection: null`` is
manual mode), ``turn_detection`` objects are completed with the defaults. The transcription model is fixed
per family whatever the client names. Both session shapes are taken: the flat one of the docs and the nested
``audio.{input,output}`` one the official SDK sends to qwen3.8 (``format`` and ``voice``). Errors are worded
like DashScope's where the wording is known (modalities, voice) and marked unverified in the protocol notes
elsewhere.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from realtime_openai_protocol.emulator import RequestError, SessionView, TurnDetection

from ..models import ModelProfile, resolve_model

__all__ = ["CREATED_KEYS", "DashScopeSchema", "VoiceRefused"]

_TOP = {
    "modalities", "voice", "input_audio_format", "output_audio_format", "instructions", "smooth_output",
    "input_audio_transcription", "turn_detection", "tools", "tool_choice", "enable_search", "search_options",
    "temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "presence_penalty", "seed",
    "audio", "video",
}  # fmt: skip
CREATED_KEYS = (
    "object", "model", "modalities", "voice", "input_audio_format", "output_audio_format",
    "input_audio_transcription", "turn_detection", "enable_search", "search_options", "tools", "tool_choice",
    "temperature", "id",
)  # fmt: skip
"""What ``session.created`` shows (``session.updated`` shows the whole configuration)."""
_TD_KEYS = {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "interrupt_response", "idle_timeout_ms"}
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IN_FORMATS = ("pcm16", "pcm")
_OUT_FORMATS = ("pcm16", "pcm24", "pcm")
SEMANTIC_SILENCE_MS = 600


class VoiceRefused(RequestError):
    """An unsupported voice: the server answers with an error and closes the socket."""


def _err(message: str, param: str | None, code: str = "invalid_value") -> RequestError:
    return RequestError(code, message, param)


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(f"Invalid type for '{path}': expected an object.", path)
    return value  # pyright: ignore[reportUnknownVariableType]


def _num(value: Any, path: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(f"Invalid type for '{path}': expected a number.", path)
    if value < lo or (lo_open and value == lo) or value > hi or (hi_open and value == hi):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise _err(f"Invalid value for '{path}': {value} is out of range {left}{lo:g}, {hi:g}{right}.", path)
    return float(value)


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(f"Invalid type for '{path}': expected an integer.", path)
    if not lo <= value <= hi:
        raise _err(f"Invalid value for '{path}': {value} is out of range [{lo}, {hi}].", path)
    return value


@dataclass(frozen=True)
class DashScopeSchema:
    """DashScope session rules (the model profile comes from the session's ``model``)."""

    def profile(self, config: dict[str, Any]) -> ModelProfile:
        return resolve_model(config["model"])

    def defaults(self, model: str) -> dict[str, Any]:
        profile = resolve_model(model)
        sampling = dict(profile.defaults)
        config: dict[str, Any] = {
            "model": model,
            "modalities": ["text", "audio"],
            "voice": profile.default_voice,
            "input_audio_format": "pcm16",
            "output_audio_format": profile.output_audio_format,
            "instructions": "",
            "input_audio_transcription": {"model": profile.transcription_model},
            "turn_detection": self.turn_defaults(),
            "tools": [],
            "tool_choice": "auto",
            "enable_search": False,
            "search_options": {},
            "temperature": sampling["temperature"],
            "top_p": sampling["top_p"],
            "top_k": int(sampling["top_k"]),
            "max_tokens": profile.max_output_tokens,
            "repetition_penalty": sampling["repetition_penalty"],
            "presence_penalty": sampling["presence_penalty"],
            "seed": -1,
        }
        if profile.smooth_output:
            config["smooth_output"] = True
        return config

    @staticmethod
    def turn_defaults(kind: str = "server_vad") -> dict[str, Any]:
        return {
            "type": kind,
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 800,
            "create_response": True,
            "interrupt_response": True,
        }

    def echo(self, config: dict[str, Any], session_id: str, expires_at: int) -> dict[str, Any]:
        """The whole configuration, as ``session.updated`` carries it."""
        return {"id": session_id, "object": "realtime.session", **copy.deepcopy(config)}

    def created(self, config: dict[str, Any], session_id: str) -> dict[str, Any]:
        """The subset ``session.created`` carries."""
        full = self.echo(config, session_id, 0)
        return {key: full[key] for key in CREATED_KEYS if key in full}

    def view(self, config: dict[str, Any]) -> SessionView:
        """What the shared connection acts on (its VAD, reply modality, the ``session_configured`` fact)."""
        td = config.get("turn_detection")
        detection = None
        if td is not None:
            # DashScope's threshold runs from -1 (most sensitive) to 1 around 0.5; the shared VAD scales the
            # scenario's RMS level by threshold / 0.5, so map it onto that scale
            threshold = 0.5 * 2 ** ((td.get("threshold", 0.5) - 0.5) * 3)
            silence = td.get("silence_duration_ms", 800) if td["type"] == "server_vad" else SEMANTIC_SILENCE_MS
            detection = TurnDetection(
                td["type"], threshold, silence, td.get("prefix_padding_ms", 300),
                td.get("create_response", True), td.get("interrupt_response", True),
            )  # fmt: skip
        transcription = config.get("input_audio_transcription")
        tools = [t["function"] for t in config.get("tools") or () if isinstance(t.get("function"), dict)]
        return SessionView(
            model=config.get("model"),
            instructions=config.get("instructions") or None,
            voice=config.get("voice"),
            output_modality="audio" if "audio" in config.get("modalities", ()) else "text",
            turn_detection=detection,
            transcription=transcription is not None,
            transcription_model=(transcription or {}).get("model"),
            tools=[{"name": t.get("name"), "description": t.get("description"), "parameters": t.get("parameters")} for t in tools],
            max_output_tokens=config.get("max_tokens", "inf"),
            input_rate=16000,
            output_rate=24000,
        )

    # ------------------------------------------------------------------ update
    def apply_update(self, current: dict[str, Any], update: Any, *, audio_produced: bool) -> dict[str, Any]:
        session = _obj(update, "session")
        for key in session:
            if key not in _TOP:
                raise _err(f"Unknown parameter: 'session.{key}'.", f"session.{key}")
        profile = self.profile(current)
        new = copy.deepcopy(current)
        voice_error: VoiceRefused | None = None
        for key, value in session.items():
            path = f"session.{key}"
            if key == "modalities":
                new[key] = self.modalities(value)
            elif key == "voice":
                try:
                    new[key] = self._voice(value, profile, current.get("voice"), audio_produced=audio_produced)
                except VoiceRefused as exc:
                    voice_error = exc  # reported after the rest was checked, then the socket closes
            elif key == "input_audio_format":
                new[key] = self._choice(value, path, _IN_FORMATS)
            elif key == "output_audio_format":
                new[key] = self._choice(value, path, _OUT_FORMATS)
            elif key == "instructions":
                if not isinstance(value, str):
                    raise _err(f"Invalid type for '{path}': expected a string.", path)
                new[key] = value
            elif key == "smooth_output":
                if not profile.smooth_output:
                    raise _err(f"Parameter '{path}' is not supported by model {profile.name}.", path)
                if value is not None and not isinstance(value, bool):
                    raise _err(f"Invalid type for '{path}': expected a boolean or null.", path)
                new[key] = value
            elif key == "input_audio_transcription":
                if value is not None:
                    _obj(value, path)  # the transcriber is fixed per model: the name given is ignored
                new[key] = None if value is None else {"model": profile.transcription_model}
            elif key == "turn_detection":
                new[key] = self._qwen_turn_detection(value, profile, current.get("turn_detection"))
            elif key == "tools":
                new[key] = self._qwen_tools(value)
            elif key == "tool_choice":
                if value not in ("auto", "none"):
                    raise _err(f"Invalid value for '{path}': {value!r}. Supported values are: 'auto', 'none'.", path)
                new[key] = value
            elif key == "enable_search":
                if not isinstance(value, bool):
                    raise _err(f"Invalid type for '{path}': expected a boolean.", path)
                if value and not profile.search:
                    raise _err(f"Parameter '{path}' is not supported by model {profile.name}.", path)
                new[key] = value
            elif key == "search_options":
                new[key] = dict(_obj(value, path))
            elif key == "audio":
                try:
                    self._audio(new, value, profile, current.get("voice"), audio_produced=audio_produced)
                except VoiceRefused as exc:
                    voice_error = exc
            elif key == "video":
                new[key] = copy.deepcopy(_obj(value, path))
            else:
                self._sampling(new, key, value, profile)
        if new.get("enable_search") and new.get("tools"):
            raise _err("enable_search and tools cannot be used together.", "session.enable_search")
        if voice_error is not None:
            raise voice_error
        return new

    def modalities(self, value: Any) -> list[str]:
        if not isinstance(value, list) or sorted(value) not in (["text"], ["audio", "text"]):  # pyright: ignore[reportUnknownArgumentType]
            raise _err(
                f"Invalid modalities: {value!r}. Supported combinations are: ['text'] and ['audio', 'text'].",
                "session.modalities",
            )
        return list(value)  # pyright: ignore[reportUnknownArgumentType]

    def _voice(self, value: Any, profile: ModelProfile, current: Any, *, audio_produced: bool) -> str:
        if not isinstance(value, str) or not value:
            raise _err("Invalid value for 'session.voice': the voice must not be empty.", "session.voice")
        if (profile.voices and value not in profile.voices) or value in profile.refused_voices:
            raise VoiceRefused("invalid_value", f"Voice '{value}' is not supported.", "session.voice")
        if audio_produced and value != current:
            raise RequestError(
                "cannot_update_voice", "Cannot update the voice after audio was generated.", "session.voice"
            )
        return value

    @staticmethod
    def _choice(value: Any, path: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            options = ", ".join(f"'{a}'" for a in allowed)
            raise _err(f"Invalid value for '{path}': {value!r}. Supported values are: {options}.", path)
        return str(value)

    def _audio(self, new: dict[str, Any], value: Any, profile: ModelProfile, current: Any, *, audio_produced: bool) -> None:
        """The nested shape (the official SDK's for qwen3.8): ``audio.{input,output}.format = {type, sample_rate}``
        and ``audio.output.voice``."""
        audio = _obj(value, "session.audio")
        for side, rate, target, formats in (("input", 16000, "input_audio_format", _IN_FORMATS), ("output", 24000, "output_audio_format", _OUT_FORMATS)):
            if side not in audio:
                continue
            part = _obj(audio[side], f"session.audio.{side}")
            if side == "output" and "voice" in part:
                new["voice"] = self._voice(part["voice"], profile, current, audio_produced=audio_produced)
            if "format" not in part:
                continue
            fmt = _obj(part["format"], f"session.audio.{side}.format")
            path = f"session.audio.{side}.format"
            new[target] = self._choice(fmt.get("type", "pcm"), f"{path}.type", formats)
            if fmt.get("sample_rate", rate) != rate:
                raise _err(f"Invalid value for '{path}.sample_rate': only {rate} is supported.", f"{path}.sample_rate")

    def _qwen_turn_detection(self, value: Any, profile: ModelProfile, current: Any) -> dict[str, Any] | None:
        path = "session.turn_detection"
        if value is None:
            return None
        td = _obj(value, path)
        for key in td:
            if key not in _TD_KEYS:
                raise _err(f"Unknown parameter: '{path}.{key}'.", f"{path}.{key}")
        kind = td.get("type", (current or {}).get("type", "server_vad"))
        if kind not in ("server_vad", "semantic_vad"):
            raise _err(f"Invalid value for '{path}.type': {kind!r}. Supported values are: 'server_vad', 'semantic_vad'.", f"{path}.type")
        if kind == "semantic_vad" and not profile.semantic_vad:
            raise _err(f"semantic_vad is not supported by model {profile.name}.", f"{path}.type")
        out = self.turn_defaults(kind)
        if "threshold" in td:
            out["threshold"] = _num(td["threshold"], f"{path}.threshold", -1.0, 1.0)
        if "prefix_padding_ms" in td:
            out["prefix_padding_ms"] = _int(td["prefix_padding_ms"], f"{path}.prefix_padding_ms", 0, 10_000)
        if "silence_duration_ms" in td:
            out["silence_duration_ms"] = _int(td["silence_duration_ms"], f"{path}.silence_duration_ms", 200, 6000)
        for key in ("create_response", "interrupt_response"):
            if key in td:
                if not isinstance(td[key], bool):
                    raise _err(f"Invalid type for '{path}.{key}': expected a boolean.", f"{path}.{key}")
                out[key] = td[key]
        if td.get("idle_timeout_ms") is not None:
            if not profile.idle_timeout or kind != "server_vad":
                raise _err("idle_timeout_ms is only supported with server_vad on qwen3.5 models.", f"{path}.idle_timeout_ms")
            out["idle_timeout_ms"] = _int(td["idle_timeout_ms"], f"{path}.idle_timeout_ms", 5000, 30_000)
        return out

    def _qwen_tools(self, value: Any) -> list[dict[str, Any]]:
        path = "session.tools"
        if not isinstance(value, list):
            raise _err(f"Invalid type for '{path}': expected an array.", path)
        tools: list[dict[str, Any]] = []
        for i, raw in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            tpath = f"{path}[{i}]"
            tool = _obj(raw, tpath)
            if tool.get("type") != "function":
                raise _err(f"Invalid value for '{tpath}.type': only 'function' is supported.", f"{tpath}.type")
            fn = _obj(tool.get("function"), f"{tpath}.function")  # the chat-completions shape, not OpenAI realtime's flat one
            name = fn.get("name")
            if not isinstance(name, str) or not _TOOL_NAME.match(name):
                raise _err(f"Invalid value for '{tpath}.function.name': {name!r}.", f"{tpath}.function.name")
            if "parameters" in fn:
                _obj(fn["parameters"], f"{tpath}.function.parameters")
            tools.append(copy.deepcopy(tool))
        return tools

    def _sampling(self, new: dict[str, Any], key: str, value: Any, profile: ModelProfile) -> None:
        path = f"session.{key}"
        if not profile.sampling:
            return  # turbo: fixed sampling; the value is ignored and the fixed one kept
        if key == "temperature":
            new[key] = _num(value, path, 0.0, 2.0, hi_open=True)
        elif key == "top_p":
            new[key] = _num(value, path, 0.0, 1.0, lo_open=True)
        elif key == "top_k":
            new[key] = None if value is None else _int(value, path, 0, 2**31 - 1)
        elif key == "max_tokens":
            new[key] = _int(value, path, 1, profile.max_output_tokens)
        elif key == "repetition_penalty":
            new[key] = _num(value, path, 0.0, 1e9, lo_open=True)
        elif key == "presence_penalty":
            new[key] = _num(value, path, -2.0, 2.0)
        elif key == "seed":
            new[key] = _int(value, path, 0, 2**31 - 1)
