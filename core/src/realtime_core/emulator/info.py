"""What an outside client needs to connect to an emulator (``realtime emulate`` prints it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from .latency import LatencyProfile

__all__ = ["ConnectionInfo", "credentials_in"]

_CREDENTIAL_WORDS = ("key", "secret", "token", "password")


@dataclass(frozen=True)
class ConnectionInfo:
    """How to reach an emulator from anything: an official SDK, a browser, curl.

    :ivar urls: the endpoints by what they are for (``{"websocket": "wss://..."}``).
    :ivar ca_file: the CA certificate to trust for TLS (None: plain ``ws://``/``http://``).
    :ivar credentials: every credential the emulator accepts, **unmasked** (fixed test values, not secrets).
    :ivar session_options: keyword arguments that point a session of the provider at the emulator.
    :ivar latency: how long the emulated model takes to answer.
    """

    provider: str
    urls: dict[str, str]
    ca_file: str | None
    credentials: dict[str, str]
    session_options: dict[str, Any] = field(default_factory=dict[str, Any])
    latency: LatencyProfile = field(default_factory=LatencyProfile)

    def lines(self) -> list[str]:
        """A readable description, one line per item (secrets of session options shown masked there:
        the unmasked test credentials have their own lines)."""
        out = [f"{name}: {url}" for name, url in self.urls.items()]
        if self.ca_file:
            out.append(f"trust this CA (TLS): {self.ca_file}")
        out += [f"credential {name}: {value}" for name, value in self.credentials.items()]
        out.append(f"session options: {json.dumps(self.session_options, default=str)}")
        lat = self.latency
        pace = f"paced at {lat.speed:g}x real time" if lat.speed else "streamed as fast as possible"
        out.append(f"latency: first event {lat.first_event_ms:g} ms, first audio +{lat.first_audio_ms:g} ms, {pace}")
        return out


def credentials_in(options: Mapping[str, Any]) -> dict[str, str]:
    """The credential-looking options (``api_key``, ``*_secret*``, ``*token*``...), unmasked."""
    found: dict[str, str] = {}
    for name, value in options.items():
        if not any(word in name.lower() for word in _CREDENTIAL_WORDS):
            continue
        if isinstance(value, SecretStr):
            found[name] = value.get_secret_value()
        elif isinstance(value, str) and value:
            found[name] = value
    return found
