"""Where to connect and how to authenticate: Developer API, ephemeral tokens, Vertex AI.

Secrets are read (``get_secret_value()``) only here, into the headers or URL of one connection attempt;
nothing built here is logged or kept on the session.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from realtime_core import ConfigurationError, MissingAPIKeyError

from .options import GeminiOptions

__all__ = ["DEVELOPER_HOST", "Endpoint", "require_credentials", "resolve_endpoint"]

DEVELOPER_HOST = "wss://generativelanguage.googleapis.com"
_DEV_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"
_VERTEX_PATH = "/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"


@dataclass(frozen=True)
class Endpoint:
    """One connection target. ``repr`` never shows the URL's query or the headers."""

    url: str = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    api: Literal["developer", "constrained", "vertex"]
    version: str


def require_credentials(options: GeminiOptions) -> None:
    """Refuse a configuration that has no credential of the kind it needs (before anything connects).

    :raises MissingAPIKeyError: naming what to pass.
    """
    if options.vertex is None and options.ephemeral_token is None and options.api_key is None:
        raise MissingAPIKeyError(
            "no credentials for gemini: pass api_key=..., ephemeral_token=... or vertex=VertexAI(...), "
            "or set GEMINI_API_KEY or GOOGLE_API_KEY",
            provider="gemini",
        )
    vertex = options.vertex
    if vertex is not None and vertex.access_token is None and vertex.token_provider is None and options.api_key is None:
        raise MissingAPIKeyError(
            "Vertex AI needs VertexAI(access_token=...) or token_provider=..., or an express-mode api_key",
            provider="gemini",
        )


def _base(options: GeminiOptions, default: str) -> str:
    base = options.base_url or default
    if base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    elif base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    return base.rstrip("/")


async def resolve_endpoint(options: GeminiOptions) -> Endpoint:
    """The URL and headers for the next connection (asks a Vertex token provider for a fresh token).

    :raises MissingAPIKeyError: no credential of the kind the configuration needs.
    :raises ConfigurationError: a token provider returned something unusable.
    """
    vertex = options.vertex
    if vertex is not None:
        if vertex.location == "global":
            default = "wss://aiplatform.googleapis.com"
        else:
            default = f"wss://{vertex.location}-aiplatform.googleapis.com"
        url = _base(options, default) + _VERTEX_PATH.format(version=vertex.api_version)
        headers: dict[str, str] = {}
        token: str | None = None
        if vertex.token_provider is not None:
            value = vertex.token_provider()
            if inspect.isawaitable(value):
                value = await value
            if not isinstance(value, str) or not value:
                raise ConfigurationError(
                    "vertex.token_provider must return a non-empty access token string", provider="gemini"
                )
            token = value
        elif vertex.access_token is not None:
            token = vertex.access_token.get_secret_value()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif options.api_key is not None:
            headers["x-goog-api-key"] = options.api_key.get_secret_value()  # Vertex express mode
        else:
            raise MissingAPIKeyError(
                "Vertex AI needs vertex=VertexAI(access_token=... or token_provider=...) or an express-mode api_key",
                provider="gemini",
            )
        return Endpoint(url=url, headers=headers, api="vertex", version=vertex.api_version)

    if options.ephemeral_token is not None:
        token = options.ephemeral_token.get_secret_value()
        url = _base(options, DEVELOPER_HOST) + _DEV_PATH.format(
            version="v1alpha", method="BidiGenerateContentConstrained"
        )
        if options.auth_in == "query":
            return Endpoint(
                url=f"{url}?access_token={quote(token, safe='')}", headers={}, api="constrained", version="v1alpha"
            )
        return Endpoint(url=url, headers={"Authorization": f"Token {token}"}, api="constrained", version="v1alpha")

    if options.api_key is None:
        raise MissingAPIKeyError(
            "no API key for gemini: pass api_key=... or set GEMINI_API_KEY or GOOGLE_API_KEY", provider="gemini"
        )
    version = options.api_version or _needed_version(options)
    url = _base(options, DEVELOPER_HOST) + _DEV_PATH.format(version=version, method="BidiGenerateContent")
    key = options.api_key.get_secret_value()
    if options.auth_in == "query":
        return Endpoint(url=f"{url}?key={quote(key, safe='')}", headers={}, api="developer", version=version)
    return Endpoint(url=url, headers={"x-goog-api-key": key}, api="developer", version=version)


def _needed_version(options: GeminiOptions) -> str:
    # Affective dialog and proactive audio exist only in v1alpha.
    if options.affective_dialog is not None or options.proactive_audio is not None:
        return "v1alpha"
    return "v1beta"
