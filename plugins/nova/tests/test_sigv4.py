"""The emulator's SigV4 checks against signatures made by AWS's own signer (aws_sdk_signers)."""

from __future__ import annotations

import datetime
from binascii import hexlify

import pytest
from aws_sdk_signers import URI, AWSCredentialIdentity, AWSRequest, Field, Fields
from aws_sdk_signers.signers import AsyncEventSigner, AsyncSigV4Signer
from smithy_aws_event_stream.events import EventHeaderEncoder, EventMessage

from realtime_nova.emulator.sigv4 import AuthFailure, EventChain, verify_request

SECRET = "test-secret-key-0123456789"
IDENTITY = AWSCredentialIdentity(access_key_id="AKIDTEST", secret_access_key=SECRET, session_token="tok")
PATH = "/model/amazon.nova-2-sonic-v1%3A0/invoke-with-bidirectional-stream"
PROPS = {"region": "us-east-1", "service": "bedrock"}


async def _signed_headers(*, path: str = PATH) -> dict[str, str]:
    request = AWSRequest(
        destination=URI(host="127.0.0.1", port=8443, path=path, scheme="https"),
        method="POST",
        body=None,
        fields=Fields(
            [
                Field(name="Content-Type", values=["application/vnd.amazon.eventstream"]),
                Field(name="X-Amz-Content-SHA256", values=["STREAMING-AWS4-HMAC-SHA256-EVENTS"]),
            ]
        ),
    )
    signed = await AsyncSigV4Signer().sign(request=request, identity=IDENTITY, properties=dict(PROPS))  # type: ignore[arg-type]
    headers = {f.name.lower(): f.as_string() for f in signed.fields}
    headers[":authority"] = "127.0.0.1:8443"
    return headers


def _verify(headers: dict[str, str], *, path: str = PATH, secret: str = SECRET):  # type: ignore[no-untyped-def]
    return verify_request(
        method="POST",
        path=path,
        headers=headers,
        secret_for=lambda akid: secret if akid == "AKIDTEST" else None,
        session_token_for=lambda akid: "tok",
        region="us-east-1",
    )


async def test_request_signature_from_aws_signer_verifies() -> None:
    headers = await _signed_headers()
    auth = _verify(headers)
    assert auth.access_key_id == "AKIDTEST"
    assert auth.scope.endswith("/us-east-1/bedrock/aws4_request")
    assert auth.session_token == "tok"


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        ({"x-amz-date": "20200101T000000Z"}, "InvalidSignatureException"),
        ({"content-type": "application/json"}, "InvalidSignatureException"),
        ({"x-amz-security-token": "other"}, "UnrecognizedClientException"),
        ({"authorization": "Bearer nope"}, "MissingAuthenticationTokenException"),
    ],
)
async def test_tampered_requests_are_refused(change: dict[str, str], error_type: str) -> None:
    headers = {**await _signed_headers(), **change}
    with pytest.raises(AuthFailure) as info:
        _verify(headers)
    assert info.value.status == 403 and info.value.error_type == error_type


async def test_wrong_secret_and_unknown_key_refused() -> None:
    headers = await _signed_headers()
    with pytest.raises(AuthFailure, match="signature we calculated"):
        _verify(headers, secret="not-the-secret")
    with pytest.raises(AuthFailure) as info:
        verify_request(method="POST", path=PATH, headers=headers, secret_for=lambda _: None)
    assert info.value.error_type == "UnrecognizedClientException"


async def test_path_is_canonicalised_double_encoded() -> None:
    # the ':' of the model id travels as %3A and is encoded once more in the canonical request
    headers = await _signed_headers()
    with pytest.raises(AuthFailure):
        _verify(headers, path=PATH.replace("%3A", ":"))


async def test_event_chain_matches_aws_event_signer() -> None:
    headers = await _signed_headers()
    auth = _verify(headers)
    signer = AsyncEventSigner(initial_signature=auth.signature.encode(), event_encoder_cls=EventHeaderEncoder)
    chain = EventChain(auth)
    for payload in (b"first event", b"second", b""):
        message = EventMessage(payload=payload) if payload else EventMessage()
        signed = (
            await signer.sign(event=message, identity=IDENTITY, properties=dict(PROPS))  # type: ignore[arg-type]
            if payload
            else await signer.sign_empty(event=message, identity=IDENTITY, properties=dict(PROPS))  # type: ignore[arg-type]
        )
        date = signed.headers[":date"]
        assert isinstance(date, datetime.datetime)
        signature = signed.headers[":chunk-signature"]
        assert isinstance(signature, bytes)
        chain.verify(date, signature, signed.payload)
    assert chain.verified == 3 and chain.finished
    with pytest.raises(AuthFailure):
        chain.verify(date, signature, b"after the end")


async def test_event_chain_refuses_tampering_and_reordering() -> None:
    auth = _verify(await _signed_headers())
    signer = AsyncEventSigner(initial_signature=auth.signature.encode(), event_encoder_cls=EventHeaderEncoder)
    one = await signer.sign(event=EventMessage(payload=b"one"), identity=IDENTITY, properties=dict(PROPS))  # type: ignore[arg-type]
    two = await signer.sign(event=EventMessage(payload=b"two"), identity=IDENTITY, properties=dict(PROPS))  # type: ignore[arg-type]
    tampered = one.payload.replace(b"one", b"One")  # the envelope wraps the encoded inner message
    with pytest.raises(AuthFailure):
        EventChain(auth).verify(one.headers[":date"], one.headers[":chunk-signature"], tampered)  # type: ignore[arg-type]
    with pytest.raises(AuthFailure):  # out of order: the second event does not follow the request
        EventChain(auth).verify(two.headers[":date"], two.headers[":chunk-signature"], two.payload)  # type: ignore[arg-type]
    chain = EventChain(auth)
    chain.verify(one.headers[":date"], one.headers[":chunk-signature"], one.payload)  # type: ignore[arg-type]
    chain.verify(two.headers[":date"], two.headers[":chunk-signature"], two.payload)  # type: ignore[arg-type]
    assert hexlify(two.headers[":chunk-signature"]).decode() == chain._prior  # type: ignore[arg-type]
