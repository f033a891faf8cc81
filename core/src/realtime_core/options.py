"""A provider's options, read from its session class: names, types, defaults and descriptions.

The options model of a provider IS its session class's keyword parameters (every ``__init__`` along its
base classes, down to :class:`~realtime_core.Realtime`'s core options), with the ``:param name:`` lines of
their docstrings. One source, used three ways:

* :func:`describe_options` lists them (``realtime providers NAME``, ``realtime providers --json``);
* :func:`check_options` validates names and values before a session is built (``realtime_core.load``):
  an unknown name is a :class:`~realtime_core.ConfigurationError` with "did you mean ...?", a value of the
  wrong type names the option, the expected type and what was given;
* :func:`parse_cli_options` turns ``--option key=value`` strings into typed values.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from .errors import ConfigurationError

__all__ = ["OptionInfo", "check_options", "describe_options", "parse_cli_options", "unknown_option_error"]

_PARAM_DOC = re.compile(r"^\s*:param\s+(\w+):\s*(.+?)\s*$")


@dataclass(frozen=True)
class OptionInfo:
    """One keyword option of a provider's session class."""

    name: str
    annotation: Any
    default: Any
    required: bool
    description: str
    core: bool
    """A :class:`~realtime_core.Realtime` option every provider takes (instructions, tools...)."""

    @property
    def type_name(self) -> str:
        text = self.annotation if isinstance(self.annotation, str) else _type_text(self.annotation)
        return text.replace("typing.", "").replace("collections.abc.", "")

    def as_json(self) -> dict[str, Any]:
        default = None if self.required else self.default
        try:
            json.dumps(default)
        except TypeError:
            default = repr(default)
        return {
            "name": self.name,
            "type": self.type_name,
            "default": default,
            "required": self.required,
            "description": self.description,
            "core": self.core,
        }


def _type_text(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _param_docs(fn: Any) -> dict[str, str]:
    docs: dict[str, str] = {}
    current: str | None = None
    for line in (inspect.getdoc(fn) or "").splitlines():
        match = _PARAM_DOC.match(line)
        if match:
            name = match.group(1)
            docs[name] = match.group(2)
            current = name
        elif current and line.startswith((" ", "\t")) and line.strip():
            docs[current] += " " + line.strip()
        else:
            current = None
    return docs


def _inits(cls: type) -> list[Any]:
    from .session import Realtime

    return [klass.__dict__["__init__"] for klass in cls.__mro__ if "__init__" in klass.__dict__ and issubclass(klass, Realtime)]


def describe_options(session_class: type) -> list[OptionInfo]:
    """The keyword options of ``session_class`` (provider options first, then core options)."""
    from .session import Realtime

    seen: dict[str, OptionInfo] = {}
    for init in _inits(session_class):
        docs = {**_param_docs(init), **_param_docs(_owner(init))}
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # unresolvable annotations: show them as written
            hints = {}
        is_core = init is Realtime.__dict__["__init__"]
        for name, param in inspect.signature(init).parameters.items():
            if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or name in seen:
                continue
            seen[name] = OptionInfo(
                name=name,
                annotation=hints.get(name, param.annotation),
                default=None if param.default is param.empty else param.default,
                required=param.default is param.empty,
                description=docs.get(name, ""),
                core=is_core,
            )
    return sorted(seen.values(), key=lambda o: (o.core, o.name))


def _owner(init: Any) -> Any:
    qualname = getattr(init, "__qualname__", "")
    module = inspect.getmodule(init)
    owner = getattr(module, qualname.split(".")[0], None) if module is not None else None
    return owner if owner is not None else init


def unknown_option_error(provider: str, unknown: Iterable[str], known: Iterable[str]) -> ConfigurationError:
    """The error for options nobody takes, with the closest known names."""
    known = sorted(set(known))
    parts: list[str] = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    listing = ", ".join(known) if len(known) <= 15 else f"run `realtime providers {provider}` to see all {len(known)}"
    return ConfigurationError(
        f"unknown option{'s' if len(parts) > 1 else ''} for {provider}: {', '.join(parts)}; options: {listing}",
        provider=provider,
    )


def check_options(provider: str, session_class: type, options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigurationError` for an unknown option or a value of the wrong type."""
    infos = {info.name: info for info in describe_options(session_class)}
    unknown = [name for name in options if name not in infos]
    if unknown:
        raise unknown_option_error(provider, unknown, infos)
    for name, value in options.items():
        annotation = infos[name].annotation
        if isinstance(annotation, str) or annotation is inspect.Parameter.empty:
            continue
        try:
            pydantic.TypeAdapter(annotation, config=pydantic.ConfigDict(arbitrary_types_allowed=True)).validate_python(
                value, strict=True
            )
        except pydantic.ValidationError:
            raise ConfigurationError(
                f"option {name!r} of {provider} must be {infos[name].type_name}, got {type(value).__name__} {_short(value)}",
                provider=provider,
            ) from None
        except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError):
            continue  # a type pydantic cannot check: the provider checks it itself


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_cli_options(provider: str, session_class: type, pairs: Iterable[str]) -> dict[str, Any]:
    """``["voice=Kore", "temperature=0.7"]`` as typed options (JSON values are accepted too: ``tools=[]``).

    :raises ConfigurationError: a pair without ``=``, an unknown option, or a value of the wrong type.
    """
    infos = {info.name: info for info in describe_options(session_class)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigurationError(f"--option takes key=value, got {pair!r}", provider=provider)
        info = infos.get(name)
        if info is None:
            raise unknown_option_error(provider, [name], infos)
        out[name] = _coerce(provider, info, raw)
    return out


def _coerce(provider: str, info: OptionInfo, raw: str) -> Any:
    annotation = info.annotation
    candidates: list[Any] = [raw]
    try:
        candidates.insert(0, json.loads(raw))
    except ValueError:
        pass
    if isinstance(annotation, str) or annotation is inspect.Parameter.empty:
        return candidates[0]
    adapter = pydantic.TypeAdapter(annotation, config=pydantic.ConfigDict(arbitrary_types_allowed=True))
    for candidate in candidates:
        try:
            return adapter.validate_python(candidate)
        except (pydantic.ValidationError, TypeError):
            continue
    raise ConfigurationError(f"option {info.name!r} of {provider} must be {info.type_name}, got {raw!r}", provider=provider)
