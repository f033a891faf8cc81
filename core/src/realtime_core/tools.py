"""Function tools: declare Python callables, get JSON schemas, run calls safely.

A tool is any sync or async callable with type hints. Its JSON schema is derived by pydantic from the
signature, its description from the docstring (``:param x:`` lines describe parameters). Calls are
validated against the schema, run with a timeout (sync callables in a worker thread so they never block
the event loop), and always produce a :class:`ToolResult`: a tool that raises or times out yields an error
result that is sent to the model, so the conversation continues.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_type_hints

import pydantic
import pydantic_core

from .errors import ConfigurationError

__all__ = ["Tool", "ToolCall", "ToolRegistry", "ToolResult", "tool"]

ToolFunc = Callable[..., Any]
_PARAM_DOC = re.compile(r"^\s*:param\s+(\w+):\s*(.+)$")
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for. ``arguments`` may be a dict or the raw JSON string from the wire."""

    call_id: str
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict[str, Any])
    response_id: str | None = None

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises ``ValueError`` for JSON that is not an object."""
        if isinstance(self.arguments, str):
            if not self.arguments.strip():
                return {}
            value = json.loads(self.arguments)
            if not isinstance(value, dict):
                raise ValueError(f"tool arguments must be a JSON object, got {type(value).__name__}")
            return value  # pyright: ignore[reportUnknownVariableType]
        return dict(self.arguments)


@dataclass(slots=True)
class ToolResult:
    """What a call produced. Exactly one of ``output``/``error`` is meaningful."""

    call_id: str
    name: str
    output: Any = None
    error: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    duration_ms: float = 0.0
    response_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def as_dict(self) -> dict[str, Any]:
        """``{"result": ...}`` or ``{"error": "..."}`` (for providers that take an object)."""
        if self.error is not None:
            return {"error": self.error}
        if isinstance(self.output, dict):
            return pydantic_core.to_jsonable_python(self.output)  # type: ignore[no-any-return]
        return {"result": pydantic_core.to_jsonable_python(self.output, fallback=str)}

    def as_json(self) -> str:
        """The result as a JSON string (for providers that take a string output)."""
        if self.error is not None:
            return json.dumps({"error": self.error})
        return pydantic_core.to_json(self.output, fallback=str).decode()


def _doc_parts(func: ToolFunc) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(func) or ""
    params: dict[str, str] = {}
    summary_lines: list[str] = []
    for line in doc.splitlines():
        m = _PARAM_DOC.match(line)
        if m:
            params[m.group(1)] = m.group(2).strip()
        elif not params and not line.lstrip().startswith(":"):
            summary_lines.append(line)
    return " ".join(" ".join(summary_lines).split()), params


class Tool:
    """A callable exposed to the model.

    :param func: sync or async callable with type-hinted parameters.
    :param name: the name the model sees (defaults to the function name).
    :param description: defaults to the docstring's summary.
    :param timeout: seconds before the call is abandoned and an error returned (None: session default).
    """

    def __init__(
        self,
        func: ToolFunc,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> None:
        if not callable(func):
            raise ConfigurationError(f"a tool must be callable, got {type(func).__name__}")
        self.func = func
        self.name = name or getattr(func, "__name__", "")
        if not _NAME_OK.match(self.name):
            raise ConfigurationError(
                f"tool name {self.name!r} is not valid: use letters, digits, '_' or '-' (max 64)"
            )
        summary, param_docs = _doc_parts(func)
        self.description = description if description is not None else summary
        self.timeout = timeout
        # async callables include objects whose __call__ is a coroutine function
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)
        self._args_model = self._build_model(func, param_docs)
        try:
            schema = self._args_model.model_json_schema()
        except pydantic.PydanticUserError as exc:  # e.g. a parameter typed with a class pydantic cannot describe
            raise ConfigurationError(
                f"tool {self.name!r}: its parameters cannot be described as JSON schema ({_first_line(exc)}); "
                "annotate them with JSON types (str, int, float, bool, list, dict, Literal, pydantic models)"
            ) from None
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        schema.setdefault("properties", {})
        self.parameters: dict[str, Any] = schema

    def _build_model(self, func: ToolFunc, param_docs: dict[str, str]) -> type[pydantic.BaseModel]:
        sig = inspect.signature(func)
        try:
            hints = get_type_hints(func)
        except Exception as exc:  # unresolvable forward refs
            raise ConfigurationError(f"cannot read the type hints of tool {self.name!r}: {exc}") from exc
        fields: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(pname, Any)
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, pydantic.Field(default, description=param_docs.get(pname)))
            try:
                pydantic.TypeAdapter(annotation).json_schema()
            except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as exc:
                raise ConfigurationError(
                    f"tool {self.name!r}: parameter {pname!r} is annotated {_type_name(annotation)}, which cannot "
                    f"be described as JSON schema ({_first_line(exc)}); use JSON types (str, int, float, bool, "
                    "list, dict, Literal, pydantic models)"
                ) from None
        model_name = "".join(part.capitalize() for part in re.split(r"[_-]", self.name)) + "Arguments"
        return pydantic.create_model(model_name, **fields)

    def schema(self) -> dict[str, Any]:
        """``{"name", "description", "parameters"}`` with a JSON Schema object for parameters."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    async def invoke(self, arguments: Mapping[str, Any]) -> Any:
        """Validate ``arguments`` and call the function (sync ones in a worker thread)."""
        try:
            validated = self._args_model.model_validate(dict(arguments))
        except pydantic.ValidationError as exc:
            raise ValueError(f"invalid arguments for {self.name}: {exc.errors(include_url=False)}") from exc
        kwargs = {name: getattr(validated, name) for name in type(validated).model_fields}
        if self.is_async:
            return await self.func(**kwargs)
        result = await asyncio.to_thread(self.func, **kwargs)
        if inspect.isawaitable(result):  # a sync wrapper returning a coroutine
            return await result
        return result

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


def tool(
    func: ToolFunc | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Any:
    """Decorator turning a function into a :class:`Tool` (usable with or without arguments)."""

    def wrap(f: ToolFunc) -> Tool:
        return Tool(f, name=name, description=description, timeout=timeout)

    return wrap(func) if func is not None else wrap


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


class ToolRegistry:
    """The tools of one session, by name."""

    def __init__(self, tools: Iterable[Tool | ToolFunc] = ()) -> None:
        given = cast(object, tools)  # apps pass anything
        kind = type(given).__name__
        if callable(given):
            raise ConfigurationError(f"tools must be a list of functions or Tool objects, got a {kind}; wrap it: tools=[fn]")
        if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
            raise ConfigurationError(f"tools must be a list of functions or Tool objects, got {kind}")
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.register(item)

    def register(self, item: Tool | ToolFunc, **kwargs: Any) -> Tool:
        """Add a tool (a :class:`Tool` or a plain callable); a second tool with the same name is an error."""
        t = item if isinstance(item, Tool) else Tool(item, **kwargs)
        if t.name in self._tools:
            raise ConfigurationError(f"a tool named {t.name!r} is already registered")
        self._tools[t.name] = t
        return t

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self._tools.values()]

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    async def run(self, call: ToolCall, *, timeout: float) -> ToolResult:
        """Run one call to completion; never raises (except for cancellation of the caller)."""
        started = time.perf_counter()
        result = ToolResult(call_id=call.call_id, name=call.name, response_id=call.response_id)
        t = self._tools.get(call.name)
        try:
            if t is None:
                known = ", ".join(sorted(self._tools)) or "none"
                raise LookupError(f"unknown tool {call.name!r} (registered: {known})")
            args = call.parsed_arguments()
            limit = t.timeout if t.timeout is not None else timeout
            result.output = await asyncio.wait_for(t.invoke(args), limit)
        except TimeoutError:
            result.timed_out = True
            result.error = f"tool {call.name!r} timed out"
        except asyncio.CancelledError:
            result.cancelled = True
            result.error = "cancelled"
            raise
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            result.duration_ms = (time.perf_counter() - started) * 1000
        return result

