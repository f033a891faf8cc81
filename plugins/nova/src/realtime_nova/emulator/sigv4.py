"""Server-side SigV4 checks: the request signature and the rolling per-event signature chain.

Written from the SigV4 specification for the emulator (the plugin signs through the AWS SDK). The
request is signed with the payload hash ``STREAMING-AWS4-HMAC-SHA256-EVENTS``; each input event then
travels in an envelope whose ``:chunk-signature`` is an HMAC over the previous signature, the event's
``:date`` header and the SHA-256 of the wrapped message.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from ..eventstream import encode_header

__all__ = ["AuthFailure", "EventChain", "RequestAuth", "derive_signing_key", "verify_request"]

STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


class AuthFailure(Exception):
    """The request must be refused: ``status`` and AWS error type for the restJson1 error response."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass(frozen=True)
class RequestAuth:
    """A verified request: what the event chain needs to continue from it."""

    access_key_id: str
    region: str
    service: str
    scope: str
    signature: str
    signing_key: bytes
    session_token: str | None
    secret: str = field(repr=False, default="")

    def key_for(self, date: str) -> bytes:
        """The signing key for ``date`` (YYYYMMDD): events signed after midnight UTC use the new day."""
        if date == self.scope[:8]:
            return self.signing_key
        return derive_signing_key(self.secret, date, self.region, self.service)


def verify_request(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    secret_for: Callable[[str], str | None],
    region: str | None = None,
    service: str = "bedrock",
    session_token_for: Callable[[str], str | None] | None = None,
    require_session_token: bool = False,
    now: datetime.datetime | None = None,
    max_skew: datetime.timedelta = datetime.timedelta(minutes=15),
) -> RequestAuth:
    """Recompute the request's SigV4 signature.

    :param path: the raw ``:path`` (percent-encoded, possibly with a query).
    :param headers: lower-case header names; ``host`` may be given as ``:authority``.
    :param secret_for: the secret key of an access key id (None: unknown key).
    :param session_token_for: the session token of an access key id's temporary credentials.
    :param require_session_token: refuse requests without one (accept temporary credentials only).
    :raises AuthFailure: with the status and error type the real service would use.
    """
    auth = headers.get("authorization", "")
    match = _AUTH_RE.match(auth)
    if match is None:
        raise AuthFailure(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    akid = match["akid"]
    secret = secret_for(akid)
    if secret is None:
        raise AuthFailure(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    if match["service"] != service:
        raise AuthFailure(
            403, "InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'."
        )
    if region is not None and match["region"] != region:
        raise AuthFailure(
            403, "InvalidSignatureException", f"Credential should be scoped to a valid region: '{region}'."
        )
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(amz_date, _TIMESTAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise AuthFailure(403, "IncompleteSignatureException", "Missing or malformed X-Amz-Date header") from None
    if amz_date[:8] != match["date"]:
        raise AuthFailure(403, "InvalidSignatureException", "Credential date does not match X-Amz-Date")
    current = now or datetime.datetime.now(datetime.UTC)
    if abs(current - when) > max_skew:
        raise AuthFailure(403, "InvalidSignatureException", "Signature expired: the request time is too skewed")
    token = headers.get("x-amz-security-token")
    if session_token_for is not None and (token is not None or require_session_token):
        # long-term keys come without a session token; a token that is sent (temporary keys) must match
        expected_token = session_token_for(akid)
        if expected_token is not None and token != expected_token:
            raise AuthFailure(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise AuthFailure(403, "IncompleteSignatureException", "host and x-amz-date must be signed")
    if token is not None and "x-amz-security-token" not in signed:
        raise AuthFailure(403, "IncompleteSignatureException", "x-amz-security-token must be signed")
    raw_path, _, query = path.partition("?")
    canonical_headers = ""
    for name in signed:
        value = headers.get(":authority" if name == "host" else name, headers.get(name))
        if value is None:
            raise AuthFailure(403, "IncompleteSignatureException", f"signed header {name!r} is missing")
        canonical_headers += f"{name}:{' '.join(value.split())}\n"
    payload_hash = headers.get("x-amz-content-sha256", "")
    canonical = "\n".join(
        (
            method.upper(),
            quote(raw_path, safe="/"),  # non-S3 services encode the already-encoded path once more
            _canonical_query(query),
            canonical_headers,
            ";".join(signed),
            payload_hash,
        )
    )
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    string_to_sign = "\n".join(("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()))
    key = derive_signing_key(secret, match["date"], match["region"], match["service"])
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["sig"]):
        raise AuthFailure(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return RequestAuth(
        access_key_id=akid,
        region=match["region"],
        service=match["service"],
        scope=scope,
        signature=match["sig"],
        signing_key=key,
        session_token=token,
        secret=secret,
    )


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class EventChain:
    """Checks each envelope's ``:chunk-signature`` against the rolling chain seeded by the request.

    Each event's scope and key use the event's own date (its ``:date`` header).
    """

    def __init__(self, auth: RequestAuth) -> None:
        self._auth = auth
        self._prior = auth.signature
        self.verified = 0
        self.finished = False

    def verify(self, date: datetime.datetime, signature: bytes, payload: bytes) -> None:
        """Check one envelope (``payload`` is the wrapped message; empty for the final frame).

        :raises AuthFailure: on a signature that does not continue the chain.
        """
        if self.finished:
            raise AuthFailure(400, "ValidationException", "event received after the final signed frame")
        auth = self._auth
        timestamp = date.astimezone(datetime.UTC).strftime(_TIMESTAMP)
        date_header = encode_header(":date", date)
        scope = f"{timestamp[:8]}/{auth.region}/{auth.service}/aws4_request"
        string_to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                timestamp,
                scope,
                self._prior,
                hashlib.sha256(date_header).hexdigest(),
                hashlib.sha256(payload).hexdigest(),
            )
        )
        expected = hmac.new(auth.key_for(timestamp[:8]), string_to_sign.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise AuthFailure(
                403, "InvalidSignatureException", "The event signature does not continue the signature chain."
            )
        self._prior = expected.hex()
        self.verified += 1
        if not payload:
            self.finished = True
