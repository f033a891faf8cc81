"""Tools as Gemini function declarations, and JSON Schema reduced to the OpenAPI subset ``parameters`` takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_core import Tool

from .options import GeminiOptions

__all__ = ["function_declaration", "json_schema_to_openapi", "tool_schema_field"]

_BEHAVIOR = {"blocking": "BLOCKING", "non_blocking": "NON_BLOCKING"}


def tool_schema_field(options: GeminiOptions) -> str:
    """``parametersJsonSchema`` or ``parameters`` for this model.

    Reports disagree: 2.x Live models were seen calling tools with empty arguments when declared with
    ``parametersJsonSchema``, while 3.x models accept it (and reject ``additionalProperties`` inside
    ``parameters``). ``auto`` follows the model's profile.
    """
    if options.tool_schema == "json_schema":
        return "parametersJsonSchema"
    if options.tool_schema == "parameters":
        return "parameters"
    return "parametersJsonSchema" if options.profile.tool_schema == "json_schema" else "parameters"


def function_declaration(tool: Tool, options: GeminiOptions) -> dict[str, Any]:
    field = tool_schema_field(options)
    decl: dict[str, Any] = {"name": tool.name}
    if tool.description:
        decl["description"] = tool.description
    params = tool.parameters
    if params.get("properties"):
        decl[field] = params if field == "parametersJsonSchema" else json_schema_to_openapi(params)
    behavior = options.effective_tool_behavior
    if behavior is not None:
        decl["behavior"] = _BEHAVIOR[behavior]
    return decl


_KEEP = {
    "description", "enum", "format", "items", "maxItems", "maxLength", "maxProperties", "maximum", "minItems",
    "minLength", "minProperties", "minimum", "nullable", "pattern", "properties", "required", "title", "type",
    "anyOf", "default", "example", "propertyOrdering",
}  # fmt: skip


def json_schema_to_openapi(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce a JSON Schema (as pydantic writes it) to the OpenAPI subset ``parameters`` accepts.

    ``$ref`` is inlined, ``anyOf [X, null]`` becomes ``X`` with ``nullable``, ``const`` becomes a one-value
    ``enum``, types are upper-cased, and keywords the server rejects (``additionalProperties``,
    ``$defs``...) are dropped.
    """
    defs = dict(schema.get("$defs", {}))

    def convert(node: Any, depth: int = 0) -> dict[str, Any]:
        if not isinstance(node, Mapping) or depth > 32:
            return {}
        node = dict(node)
        ref = node.pop("$ref", None)
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            base = convert(defs.get(ref.removeprefix("#/$defs/"), {}), depth + 1)
            return {**base, **{k: v for k, v in node.items() if k in ("description", "default")}}
        out: dict[str, Any] = {}
        any_of = node.get("anyOf")
        if isinstance(any_of, list):
            options = [o for o in any_of if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if len(options) < len(any_of):
                out["nullable"] = True
            if len(options) == 1:
                merged = convert(options[0], depth + 1)
                merged.update(out)
                for key in ("description", "default"):
                    if key in node:
                        merged[key] = node[key]
                return merged
            out["anyOf"] = [convert(o, depth + 1) for o in options]
        if "const" in node:
            out["enum"] = [node["const"]]
        for key, value in node.items():
            if key not in _KEEP or key in ("anyOf", "title"):
                continue
            if key == "type":
                kind = value
                if isinstance(value, list):  # ["string", "null"]
                    kinds = [v for v in value if v != "null"]
                    if len(kinds) < len(value):
                        out["nullable"] = True
                    kind = kinds[0] if kinds else "string"
                out["type"] = str(kind).upper()
            elif key == "properties" and isinstance(value, Mapping):
                out["properties"] = {name: convert(sub, depth + 1) for name, sub in value.items()}
            elif key == "items":
                out["items"] = convert(value, depth + 1)
            elif key == "enum" and isinstance(value, list):
                out["enum"] = [str(v) for v in value]
            else:
                out[key] = value
        return out

    result = convert(schema)
    result.setdefault("type", "OBJECT")
    return result
