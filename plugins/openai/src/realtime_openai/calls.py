"""WebRTC signalling of the OpenAI Realtime API: ``POST /v1/realtime/calls`` and the hangup.

Two request forms (protocol notes §1.3): with a standard key, ``multipart/form-data`` with the ``sdp``
offer and the ``session`` configuration (what the official SDK sends); with an ephemeral ``ek_`` client
secret, the raw offer as ``application/sdp`` (the session is the one bound to the secret). The answer
comes back as ``201`` ``application/sdp``, with the call id as the last segment of ``Location``.

The HTTP client is aiohttp: it is already a dependency of realtime-core (the emulators serve on it) and
of this plugin (client secrets), it is asyncio-native with first-class TLS contexts (the emulator's CA
via ``ca_file``, verification always on), and it is actively maintained by aio-libs. Adding httpx for
two requests would only add a dependency.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from realtime_core import ConfigurationError, ConnectionFailedError, ProtocolError, SecretStr
from realtime_core.errors import redact
from realtime_core.transport import tls_context_for

from .errors import error_from_http

if TYPE_CHECKING:
    import aiohttp

__all__ = ["CallsClient", "calls_url"]

log = logging.getLogger("realtime_openai.webrtc")
PROVIDER = "openai"


def calls_url(base_url: str) -> str:
    """``https://api.openai.com/v1`` → ``https://api.openai.com/v1/realtime/calls`` (ws(s) schemes mapped)."""
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://", "ws://", "wss://")):
        raise ConfigurationError(f"base_url must be an http(s):// URL, got {redact(str(base_url))!r}")
    parts = urlsplit(base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/realtime/calls"


class CallsClient:
    """Creates one WebRTC call and hangs it up (see the module docstring).

    :param url: the ``/realtime/calls`` URL (see :func:`calls_url`).
    :param api_key: a standard key or an ``ek_`` client secret (kept secret: never logged or shown).
    :param ca_file: an extra CA to trust (the emulator's); verification always stays on.
    :ivar call_id: the call id, once created.
    """

    def __init__(
        self,
        url: str,
        api_key: SecretStr,
        *,
        ca_file: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._key = api_key
        self._ca_file = ca_file
        self._organization = organization
        self._project = project
        self._timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self.call_id: str | None = None

    def __repr__(self) -> str:
        return f"<CallsClient url={redact(self.url)} call_id={self.call_id}>"

    @property
    def ephemeral(self) -> bool:
        """The key is an ``ek_`` client secret: the offer goes as raw SDP."""
        return self._key.get_secret_value().startswith("ek_")

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"}
        if self._organization:
            headers["OpenAI-Organization"] = self._organization
        if self._project:
            headers["OpenAI-Project"] = self._project
        return headers

    def _session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._http is None or self._http.closed:
            # no pooled connection kept open between the offer and the hangup: signalling is two requests
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout), connector=aiohttp.TCPConnector(force_close=True)
            )
        return self._http

    async def _post(
        self, url: str, data: Any, headers: dict[str, str], what: str, *, timeout: float | None = None
    ) -> tuple[int, str, Any]:
        import aiohttp

        tls = tls_context_for(url, self._ca_file)
        options: dict[str, Any] = {"ssl": tls} if tls is not None else {}
        if timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._session().post(url, data=data, headers=headers, **options) as resp:
                return resp.status, await resp.text(), resp.headers
        except aiohttp.ClientConnectorCertificateError as exc:
            cert_error = exc.certificate_error
            reason = cert_error.verify_message if isinstance(cert_error, ssl.SSLCertVerificationError) else cert_error
            raise ConnectionFailedError(
                f"TLS certificate verification failed for {redact(url)}: {reason}. "
                "If this is a private server (an emulator), pass its CA with ca_file=...",
                provider=PROVIDER,
                recoverable=False,
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ConnectionFailedError(
                f"{what}: could not reach {redact(url)}: {type(exc).__name__}: {redact(str(exc))}", provider=PROVIDER
            ) from None

    async def create(self, offer: str, session: Mapping[str, Any] | None) -> str:
        """Send the SDP offer; return the SDP answer and remember :attr:`call_id`.

        :param session: the session configuration for the multipart form (standard keys); ignored with an
            ``ek_`` secret, whose bound session applies.
        :raises AuthenticationError: the key was refused (401/403).
        :raises ConfigurationError: the server rejected the request (400: the session, the offer).
        :raises ConnectionFailedError: the server could not be reached, or failed (5xx: recoverable).
        :raises ProtocolError: the answer is not an SDP answer.
        """
        import aiohttp

        headers = {**self._headers(), "Accept": "application/sdp"}
        data: Any
        if self.ephemeral:
            headers["Content-Type"] = "application/sdp"
            data = offer.encode()
        else:
            form = aiohttp.FormData()
            form.add_field("sdp", offer, content_type="application/sdp")
            form.add_field(
                "session", json.dumps(dict(session or {"type": "realtime"})), content_type="application/json"
            )
            data = form
        status, text, resp_headers = await self._post(self.url, data, headers, "creating the WebRTC call")
        if status >= 400:
            try:
                body: Any = json.loads(text) if text else {}
            except ValueError:
                body = {}
            raise error_from_http(status, body, what="creating the WebRTC call (POST /realtime/calls)")
        if not text.startswith("v=0"):
            raise ProtocolError(
                f"POST /realtime/calls answered HTTP {status} without an SDP answer "
                f"(content type {resp_headers.get('Content-Type')!r})",
                provider=PROVIDER,
                recoverable=False,
            )
        location = resp_headers.get("Location") or ""
        segment = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
        self.call_id = segment or None
        if self.call_id is None:
            log.warning("openai webrtc: the call has no Location header; it cannot be hung up explicitly")
        return text

    async def hangup(self, *, timeout: float = 2.0) -> None:
        """``POST /realtime/calls/{call_id}/hangup`` (best effort, at most ``timeout`` seconds: failures are
        logged, never raised; closing the peer connection ends the call anyway)."""
        call_id, self.call_id = self.call_id, None
        if call_id is None:
            return
        url = f"{self.url}/{call_id}/hangup"
        try:
            status, _, _ = await self._post(url, b"", self._headers(), "hanging up", timeout=timeout)
        except ConnectionFailedError as exc:
            log.debug("openai webrtc: hangup of %s failed: %s", call_id, exc)
            return
        if status >= 400:
            log.debug("openai webrtc: hangup of %s answered HTTP %d", call_id, status)

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None and not http.closed:
            await http.close()
