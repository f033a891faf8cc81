"""The GA session object on the server side: defaults, validation and merge of ``session.update``.

Updates are validated completely before anything changes (one ``error`` and the whole update rejected,
as on the real server), fields absent from an update keep their value, ``null`` clears, and objects such
as ``turn_detection`` are replaced and completed with the server's defaults.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from realtime_openai_protocol.emulator import (
    InputAudio,
    RequestError,
    SessionView,
    TurnDetection,
    above_max,
    below_min,
    invalid_type,
    invalid_value,
    missing,
    unknown_parameter,
)

from ..config import REASONING_EFFORTS, VOICES
from ..models import profile_of

__all__ = ["DEFAULT_INSTRUCTIONS", "GaSessionSchema"]

DEFAULT_INSTRUCTIONS = (
    "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. Act like a human, but "
    "remember that you aren't a human and that you can't do human things in the real world. Keep replies short."
)
_TOP = {
    "type", "model", "output_modalities", "instructions", "audio", "tools", "tool_choice",
    "max_output_tokens", "tracing", "truncation", "include", "prompt", "reasoning", "parallel_tool_calls",
}  # fmt: skip
_REASONING_ONLY = {"reasoning", "parallel_tool_calls"}
"""Keys only the reasoning models (the gpt-realtime-2 family) take; the others refuse them as unknown."""
_TOOL_KEYS = {"type", "name", "description", "parameters"}
_SERVER_VAD_KEYS = {
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "create_response",
    "interrupt_response",
}
_SEMANTIC_VAD_KEYS = {"type", "eagerness", "create_response", "interrupt_response"}


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_type(path, "an object", value)
    return value  # pyright: ignore[reportUnknownVariableType]


def _keys(value: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in value:
        if key not in allowed:
            raise unknown_parameter(f"{path}.{key}")


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_type(path, "a boolean", value)
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise invalid_type(path, "a string", value)
    return value


def _int(value: Any, path: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(path, "an integer", value)
    if lo is not None and value < lo:
        raise below_min(path, lo, value)
    if hi is not None and value > hi:
        raise above_max(path, hi, value)
    return value


def _num(value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_type(path, "a number", value)
    if value < lo:
        raise below_min(path, lo, value)
    if value > hi:
        raise above_max(path, hi, value)
    return float(value)


@dataclass(frozen=True)
class GaSessionSchema:
    """GA session rules, with the open points of the protocol notes as switches.

    :param server_vad_silence_ms: ``silence_duration_ms`` the server fills in (doc: 500, observed: 200).
    :param model_change: what a ``session.update`` naming another model gets: ``"reject"`` or ``"accept"``.
    """

    server_vad_silence_ms: int = 200
    model_change: str = "reject"

    # ------------------------------------------------------------------ defaults and echo
    def defaults(self, model: str) -> dict[str, Any]:
        return {
            "type": "realtime",
            "model": model,
            "output_modalities": ["audio"],
            "instructions": DEFAULT_INSTRUCTIONS,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": self.server_vad({}),
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
            },
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
        }

    def echo(self, config: dict[str, Any], session_id: str, expires_at: int) -> dict[str, Any]:
        """The full effective session as ``session.created``/``session.updated`` carry it."""
        return {"object": "realtime.session", "id": session_id, "expires_at": expires_at, **copy.deepcopy(config)}

    def server_vad(self, given: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "server_vad",
            "threshold": given.get("threshold", 0.5),
            "prefix_padding_ms": given.get("prefix_padding_ms", 300),
            "silence_duration_ms": given.get("silence_duration_ms", self.server_vad_silence_ms),
            "idle_timeout_ms": given.get("idle_timeout_ms"),
            "create_response": given.get("create_response", True),
            "interrupt_response": given.get("interrupt_response", True),
        }

    # ------------------------------------------------------------------ update
    def apply_update(self, current: dict[str, Any], update: Any, *, audio_produced: bool) -> dict[str, Any]:
        """The new configuration after ``update``, or :class:`RequestError` (``current`` is untouched)."""
        session = _obj(update, "session")
        if "type" not in session:
            raise missing("session.type")
        if session["type"] not in ("realtime", "transcription"):
            raise invalid_value("session.type", session["type"], ("realtime", "transcription"))
        if session["type"] == "transcription":
            raise RequestError(
                "invalid_value", "This emulator implements realtime sessions only (type 'realtime').", "session.type"
            )
        _keys(session, _TOP, "session")
        new = copy.deepcopy(current)
        for key, value in session.items():
            path = f"session.{key}"
            if key == "type":
                continue
            if key in _REASONING_ONLY and not _reasoning(session.get("model", current.get("model"))):
                raise unknown_parameter(path)
            if key == "reasoning":
                new[key] = self._reasoning(value, path)
            elif key == "parallel_tool_calls":
                new[key] = _bool(value, path)
            elif key == "model":
                model = _str(value, path)
                if model != current.get("model") and self.model_change == "reject":
                    raise RequestError("invalid_value", "Cannot update a session's model.", path)
                new["model"] = model
            elif key == "output_modalities":
                new[key] = self._modalities(value, path)
            elif key == "instructions":
                new[key] = _str(value, path)
            elif key == "audio":
                self._audio(new, value, audio_produced=audio_produced)
            elif key == "tools":
                new[key] = self._tools(value, path)
            elif key == "tool_choice":
                new[key] = self._tool_choice(value, path)
            elif key == "max_output_tokens":
                if value != "inf":
                    _int(value, path, 1, 4096)
                new[key] = value
            elif key == "tracing":
                new[key] = self._tracing(current.get("tracing"), value, path)
            elif key == "truncation":
                new[key] = self._truncation(value, path)
            elif key == "include":
                if value is not None:
                    if not isinstance(value, list):
                        raise invalid_type(path, "an array", value)
                    for i, entry in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
                        if entry != "item.input_audio_transcription.logprobs":
                            raise invalid_value(f"{path}[{i}]", entry, ("item.input_audio_transcription.logprobs",))
                new[key] = value
            elif key == "prompt":
                if value is not None:
                    prompt = _obj(value, path)
                    _keys(prompt, {"id", "version", "variables"}, path)
                    if "id" not in prompt:
                        raise missing(f"{path}.id")
                new[key] = value
        return new

    def _reasoning(self, value: Any, path: str) -> dict[str, Any] | None:
        if value is None:
            return None
        reasoning = _obj(value, path)
        _keys(reasoning, {"effort"}, path)
        if reasoning.get("effort") not in REASONING_EFFORTS:
            raise invalid_value(f"{path}.effort", reasoning.get("effort"), REASONING_EFFORTS)
        return dict(reasoning)

    # ------------------------------------------------------------------ what the connection acts on
    def view(self, config: dict[str, Any]) -> SessionView:
        inp, out = config["audio"]["input"], config["audio"]["output"]
        td = inp.get("turn_detection")
        detection = None
        if td is not None and td["type"] == "server_vad":
            detection = TurnDetection(
                "server_vad", td["threshold"], td["silence_duration_ms"], td["prefix_padding_ms"],
                td["create_response"], td["interrupt_response"], td.get("idle_timeout_ms"),
            )  # fmt: skip
        elif td is not None:
            detection = TurnDetection(
                "semantic_vad", silence_ms=InputAudio.semantic_silence_ms(td["eagerness"]),
                create_response=td["create_response"], interrupt_response=td["interrupt_response"],
            )  # fmt: skip
        transcription = inp.get("transcription")
        return SessionView(
            model=config.get("model"),
            instructions=config.get("instructions"),
            voice=out.get("voice"),
            output_modality="text" if config.get("output_modalities") == ["text"] else "audio",
            turn_detection=detection,
            transcription=transcription is not None,
            transcription_model=(transcription or {}).get("model"),
            tools=[{"name": t.get("name"), "description": t.get("description"), "parameters": t.get("parameters")}
                   for t in config.get("tools") or () if t.get("type") == "function"],
            max_output_tokens=config.get("max_output_tokens", "inf"),
            input_rate=int((inp.get("format") or {}).get("rate", 24000)),
            output_rate=int((out.get("format") or {}).get("rate", 24000)),
        )

    def _modalities(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            raise invalid_type(path, "an array", value)
        if value not in (["audio"], ["text"]):
            raise RequestError(
                "invalid_value",
                f"Invalid value: {value!r}. Supported values are: ['audio'] and ['text'] (one output modality).",
                path,
            )
        return list(value)  # pyright: ignore[reportUnknownArgumentType]

    def _audio(self, new: dict[str, Any], value: Any, *, audio_produced: bool) -> None:
        audio = _obj(value, "session.audio")
        _keys(audio, {"input", "output"}, "session.audio")
        if "input" in audio:
            given = _obj(audio["input"], "session.audio.input")
            _keys(given, {"format", "transcription", "noise_reduction", "turn_detection"}, "session.audio.input")
            target = new["audio"]["input"]
            if "format" in given:
                target["format"] = self._format(given["format"], "session.audio.input.format")
            if "transcription" in given:
                target["transcription"] = self._transcription(given["transcription"])
            if "noise_reduction" in given:
                nr = given["noise_reduction"]
                if nr is not None:
                    nr = _obj(nr, "session.audio.input.noise_reduction")
                    _keys(nr, {"type", "strength"}, "session.audio.input.noise_reduction")
                    if "strength" in nr:
                        _num(nr["strength"], "session.audio.input.noise_reduction.strength", 0.0, 1.0)
                    if nr.get("type") not in ("near_field", "far_field"):
                        raise invalid_value(
                            "session.audio.input.noise_reduction.type", nr.get("type"), ("near_field", "far_field")
                        )
                target["noise_reduction"] = nr
            if "turn_detection" in given:
                target["turn_detection"] = self._turn_detection(given["turn_detection"])
        if "output" in audio:
            given = _obj(audio["output"], "session.audio.output")
            _keys(given, {"format", "voice", "speed"}, "session.audio.output")
            target = new["audio"]["output"]
            if "format" in given:
                target["format"] = self._format(given["format"], "session.audio.output.format")
            if "voice" in given:
                voice = given["voice"]
                if isinstance(voice, dict):
                    _keys(voice, {"id"}, "session.audio.output.voice")  # pyright: ignore[reportUnknownArgumentType]
                    _str(voice.get("id"), "session.audio.output.voice.id")  # pyright: ignore[reportUnknownMemberType]
                elif not isinstance(voice, str) or voice not in VOICES:
                    raise invalid_value("session.audio.output.voice", voice, VOICES)
                if audio_produced and voice != target.get("voice"):
                    raise RequestError(
                        "cannot_update_voice",
                        "Cannot update a conversation's voice if assistant audio is present.",
                        "session.audio.output.voice",
                    )
                target["voice"] = voice
            if "speed" in given:
                target["speed"] = _num(given["speed"], "session.audio.output.speed", 0.25, 1.5)

    def _format(self, value: Any, path: str) -> dict[str, Any]:
        fmt = _obj(value, path)
        _keys(fmt, {"type", "rate"}, path)
        kind = fmt.get("type")
        if kind not in ("audio/pcm", "audio/pcmu", "audio/pcma"):
            raise invalid_value(f"{path}.type", kind, ("audio/pcm", "audio/pcmu", "audio/pcma"))
        if kind != "audio/pcm":
            raise RequestError("invalid_value", f"This emulator implements audio/pcm only, not {kind}.", f"{path}.type")
        rate = fmt.get("rate", 24000)
        if rate != 24000:
            raise invalid_value(f"{path}.rate", rate, (24000,))
        return {"type": "audio/pcm", "rate": 24000}

    def _transcription(self, value: Any) -> dict[str, Any] | None:
        path = "session.audio.input.transcription"
        if value is None:
            return None
        tr = _obj(value, path)
        _keys(tr, {"model", "language", "prompt"}, path)
        if "model" not in tr:
            raise missing(f"{path}.model")
        _str(tr["model"], f"{path}.model")
        for key in ("language", "prompt"):
            if key in tr and tr[key] is not None:
                _str(tr[key], f"{path}.{key}")
        return dict(tr)

    def _turn_detection(self, value: Any) -> dict[str, Any] | None:
        path = "session.audio.input.turn_detection"
        if value is None:
            return None
        td = _obj(value, path)
        kind = td.get("type")
        if kind == "server_vad":
            _keys(td, _SERVER_VAD_KEYS, path)
            if "threshold" in td:
                _num(td["threshold"], f"{path}.threshold", 0.0, 1.0)
            for key in ("prefix_padding_ms", "silence_duration_ms"):
                if key in td:
                    _int(td[key], f"{path}.{key}", 0)
            if td.get("idle_timeout_ms") is not None:
                _int(td["idle_timeout_ms"], f"{path}.idle_timeout_ms", 0)
            for key in ("create_response", "interrupt_response"):
                if key in td:
                    _bool(td[key], f"{path}.{key}")
            return self.server_vad(td)
        if kind == "semantic_vad":
            _keys(td, _SEMANTIC_VAD_KEYS, path)
            eagerness = td.get("eagerness", "auto")
            if eagerness not in ("low", "medium", "high", "auto"):
                raise invalid_value(f"{path}.eagerness", eagerness, ("low", "medium", "high", "auto"))
            for key in ("create_response", "interrupt_response"):
                if key in td:
                    _bool(td[key], f"{path}.{key}")
            return {
                "type": "semantic_vad",
                "eagerness": eagerness,
                "create_response": td.get("create_response", True),
                "interrupt_response": td.get("interrupt_response", True),
            }
        if kind is None:
            raise missing(f"{path}.type")
        raise invalid_value(f"{path}.type", kind, ("server_vad", "semantic_vad"))

    def _tools(self, value: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise invalid_type(path, "an array", value)
        tools: list[dict[str, Any]] = []
        for i, raw in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            tpath = f"{path}[{i}]"
            tool = _obj(raw, tpath)
            kind = tool.get("type")
            if kind == "mcp":
                if "server_label" not in tool:
                    raise missing(f"{tpath}.server_label")
                tools.append(dict(tool))
                continue
            if kind != "function":
                raise invalid_value(f"{tpath}.type", kind, ("function", "mcp"))
            _keys(tool, _TOOL_KEYS, tpath)
            if "name" not in tool:
                raise missing(f"{tpath}.name")
            _str(tool["name"], f"{tpath}.name")
            if "parameters" in tool:
                _obj(tool["parameters"], f"{tpath}.parameters")
            tools.append(dict(tool))
        return tools

    def _tool_choice(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            if value not in ("auto", "none", "required"):
                raise invalid_value(path, value, ("auto", "none", "required"))
            return value
        choice = _obj(value, path)
        if choice.get("type") == "function":
            _keys(choice, {"type", "name"}, path)
            _str(choice.get("name"), f"{path}.name")
        elif choice.get("type") == "mcp":
            _keys(choice, {"type", "server_label", "name"}, path)
        else:
            raise invalid_value(f"{path}.type", choice.get("type"), ("function", "mcp"))
        return dict(choice)

    def _tracing(self, current: Any, value: Any, path: str) -> Any:
        if value is not None and value != "auto":
            tracing = _obj(value, path)
            _keys(tracing, {"workflow_name", "group_id", "metadata"}, path)
        if current is not None and value != current:
            raise RequestError("invalid_value", "Tracing cannot be modified once it is enabled for a session.", path)
        return value

    def _truncation(self, value: Any, path: str) -> Any:
        if value in ("auto", "disabled"):
            return value
        tr = _obj(value, path)
        _keys(tr, {"type", "retention_ratio", "token_limits"}, path)
        if tr.get("type") != "retention_ratio":
            raise invalid_value(f"{path}.type", tr.get("type"), ("retention_ratio",))
        _num(tr.get("retention_ratio"), f"{path}.retention_ratio", 0.0, 1.0)
        return dict(tr)


def _reasoning(model: Any) -> bool:
    """Whether ``model`` is one of the reasoning models (unknown models are not)."""
    try:
        return profile_of(str(model)).reasoning
    except ValueError:
        return False
