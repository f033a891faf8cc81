"""Ephemeral client secrets (``ek_...``) for browsers and mobile apps.

Your server holds the real API key and mints a short-lived secret with :func:`create_client_secret`; the
client connects with the secret (over WebSocket as ``api_key=``, or WebRTC). A secret can open several
sessions until it expires; the session configuration bound to it becomes their default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from realtime_core import ConfigurationError, ConnectionFailedError, SecretStr, resolve_api_key
from realtime_core.errors import redact
from realtime_core.transport import tls_context_for

from .config import DEFAULT_BASE_URL
from .errors import error_from_http
from .models import DEFAULT_MODEL

__all__ = ["ClientSecret", "create_client_secret"]


@dataclass(frozen=True)
class ClientSecret:
    """A minted client secret.

    :ivar value: the ``ek_...`` secret (a ``SecretStr``: it never shows in reprs or logs).
    :ivar expires_at: Unix time (seconds) after which no new session can be opened with it.
    :ivar session: the effective session configuration bound to it, as the server described it.
    """

    value: SecretStr
    expires_at: int
    session: dict[str, Any] = field(default_factory=dict[str, Any])


async def create_client_secret(
    api_key: str | SecretStr | None = None,
    *,
    session: Mapping[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    expires_after_seconds: int = 600,
    base_url: str = DEFAULT_BASE_URL,
    ca_file: str | None = None,
    organization: str | None = None,
    project: str | None = None,
    timeout: float = 10.0,
) -> ClientSecret:
    """Mint an ephemeral client secret with ``POST /v1/realtime/client_secrets``.

    :param api_key: a standard key (defaults to ``$OPENAI_API_KEY``); never an ``ek_`` secret.
    :param session: the GA session to bind (e.g. ``OpenAIRealtime(...).build_session()``); defaults to
        ``{"type": "realtime", "model": model}``.
    :param expires_after_seconds: 10-7200 seconds (the server's default is 600).
    :raises ConfigurationError: for bad arguments or a request the server rejects (HTTP 400).
    :raises AuthenticationError: for a key the server refuses.
    :raises ConnectionFailedError: when the server cannot be reached.
    """
    key = resolve_api_key(api_key, ("OPENAI_API_KEY",), provider="openai")
    assert key is not None
    if (
        isinstance(expires_after_seconds, bool)
        or not isinstance(expires_after_seconds, int)
        or not 10 <= expires_after_seconds <= 7200
    ):
        raise ConfigurationError(
            f"expires_after_seconds must be an int between 10 and 7200, got {expires_after_seconds!r}"
        )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url must be an http(s):// URL, got {redact(base_url)!r}")
    body: dict[str, Any] = {
        "expires_after": {"anchor": "created_at", "seconds": expires_after_seconds},
        "session": dict(session) if session is not None else {"type": "realtime", "model": model},
    }
    headers = {"Authorization": f"Bearer {key.get_secret_value()}", "Content-Type": "application/json"}
    if organization:
        headers["OpenAI-Organization"] = organization
    if project:
        headers["OpenAI-Project"] = project
    url = base_url.rstrip("/") + "/realtime/client_secrets"

    try:
        import aiohttp  # lazy: only this helper needs an HTTP client
    except ImportError:
        raise ConfigurationError(
            "create_client_secret() needs aiohttp: pip install 'realtime-openai[client-secrets]'"
        ) from None

    tls = tls_context_for(url, ca_file)
    options: dict[str, Any] = {"ssl": tls} if tls is not None else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.post(url, data=json.dumps(body), headers=headers, **options) as resp,
        ):
            text = await resp.text()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ConnectionFailedError(
            f"could not reach {redact(url)}: {type(exc).__name__}: {redact(str(exc))}", provider="openai"
        ) from None
    try:
        data: Any = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if status >= 400:
        raise error_from_http(status, data, what="creating a client secret")
    if not isinstance(data, dict) or not isinstance(data.get("value"), str):
        raise ConnectionFailedError("the client_secrets response has no 'value'", provider="openai", recoverable=False)
    return ClientSecret(
        value=SecretStr(data["value"]),
        expires_at=int(data.get("expires_at") or 0),
        session=dict(data.get("session") or {}),
    )
