"""Failures: in-stream exceptions, HTTP errors before the stream, TLS trust, malformed frames, idle
timeouts, faults, and credentials that must never leak."""

from __future__ import annotations

import logging

import pytest

from realtime_core import (
    AuthenticationError,
    ConnectionFailedError,
    ProtocolError,
    ProviderError,
    RateLimitedError,
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    SecretStr,
    SessionExpiredError,
)
from realtime_core.emulator import Fault
from realtime_nova import NovaRealtime
from realtime_nova.emulator import NovaEmulator

from .conftest import EmulatorFactory, SessionFactory, scenario, speak, turn


@pytest.mark.parametrize(
    ("code", "error_type", "recoverable"),
    [
        ("throttlingException", RateLimitedError, True),
        (429, RateLimitedError, True),
        ("validationException", ProtocolError, False),
        ("modelStreamErrorException", ProviderError, True),
        ("serviceUnavailableException", ProviderError, True),
    ],
)
async def test_in_stream_exceptions_become_typed_error_events(
    nova_emulator: EmulatorFactory,
    nova_session: SessionFactory,
    code: int | str,
    error_type: type[Exception],
    recoverable: bool,
) -> None:
    faults = [Fault(kind="error", at_turn=0, phase="before_reply", code=code, message="emulated trouble")]
    emulator = await nova_emulator(scenario(turn(), turn("Again."), faults=faults))
    session, rec = await nova_session(emulator)
    await speak(session)
    event = await rec.wait_for(RealtimeErrorEvent)
    assert type(event.error) is error_type
    assert event.recoverable is recoverable and "emulated trouble" in str(event.error)
    assert event.context == "stream"
    await rec.wait_for(RealtimeAudioOutputDoneEvent)  # the stream goes on
    assert session.connected


async def test_exception_that_ends_the_stream_reconnects_with_history(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    faults = [Fault(kind="error", at_turn=1, phase="before_reply", code="internalServerException")]
    emulator = await nova_emulator(
        scenario(turn(), turn(), turn("After."), faults=faults), end_stream_on_exception=True
    )
    session, rec = await nova_session(emulator)
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await speak(session)
    error = await rec.wait_for(RealtimeErrorEvent)
    assert isinstance(error.error, ProviderError) and error.error.recoverable
    dropped = await rec.wait_for(RealtimeDisconnectedEvent)
    assert not dropped.was_clean and dropped.will_reconnect
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.state_restored and not back.planned
    await emulator.wait_fact("state_restored", lambda d: True)
    assert emulator.facts_named("state_restored")[0].connection == 2


async def test_http_errors_before_the_stream(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator()
    emulator.fail_next_streams(429, "ThrottlingException", "Too many requests")
    session, _ = await nova_session(emulator, connect=False)
    with pytest.raises(RateLimitedError, match="Too many requests"):
        await session.connect()
    assert not session.connected
    emulator.fail_next_streams(403, "AccessDeniedException", "no model access")
    session, _ = await nova_session(emulator, connect=False)
    with pytest.raises(AuthenticationError) as info:
        await session.connect()
    assert not info.value.recoverable


@pytest.mark.parametrize(
    ("fault", "error_type", "recoverable"),
    [
        (Fault(kind="error", after_messages=1, code="server_error", message="busy"), ProviderError, True),
        (Fault(kind="error", after_messages=2, code="throttlingException", message="slow down"), RateLimitedError, True),
    ],
)
async def test_an_error_during_setup_makes_connect_raise_it_with_no_event_before(
    nova_emulator: EmulatorFactory,
    nova_session: SessionFactory,
    fault: Fault,
    error_type: type[Exception],
    recoverable: bool,
) -> None:
    """The response headers wait for the setup (promptStart), so a setup failure is an HTTP error that
    connect() raises; a transient one is recoverable, never a ConfigurationError."""
    emulator = await nova_emulator(scenario(turn(), faults=[fault]))
    session, rec = await nova_session(emulator, connect=False)
    with pytest.raises(error_type) as info:
        await session.connect()
    assert getattr(info.value, "recoverable", None) is recoverable and (fault.message or "") in str(info.value)
    assert not rec.events and not session.connected


async def test_long_term_keys_and_temporary_keys_both_sign(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    """Bedrock takes long-term IAM keys (no x-amz-security-token) and temporary ones (with it)."""
    emulator = await nova_emulator(scenario(turn(), turn()))
    long_term, rec = await nova_session(emulator)
    temporary, rec2 = await nova_session(emulator, aws_session_token=SecretStr(NovaEmulator.SESSION_TOKEN))
    for session, recorder in ((long_term, rec), (temporary, rec2)):
        await speak(session)
        await recorder.wait_for(RealtimeAudioOutputDoneEvent)
    tokens = [m.payload["has_security_token"] for m in emulator.messages("http.request")]
    assert tokens == [False, True]
    strict = await nova_emulator(require_session_token=True)
    session, _ = await nova_session(strict, connect=False, aws_session_token=None)
    with pytest.raises(AuthenticationError):
        await session.connect()
    wrong, _ = await nova_session(emulator, connect=False, aws_session_token="not-the-token")
    with pytest.raises(AuthenticationError):
        await wrong.connect()


async def test_wrong_secret_is_refused_by_signature_check(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator()
    session, _ = await nova_session(emulator, connect=False, aws_secret_access_key="not-the-secret")
    with pytest.raises(AuthenticationError, match="InvalidSignatureException") as info:
        await session.connect()
    assert not info.value.recoverable
    assert emulator.messages("http.error")[0].payload["type"] == "InvalidSignatureException"


async def test_tls_is_verified_a_private_ca_must_be_trusted(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator()
    # Without ca_file the emulator's certificate is not trusted. (awscrt's TLS stack delays handshake
    # failures by many seconds, so this shows as the connect timeout.)
    session, _ = await nova_session(emulator, connect=False, ca_file=None, connect_timeout=1.5)
    with pytest.raises(ConnectionFailedError):
        await session.connect()
    assert emulator.connections == 0  # no request got past the handshake


async def test_malformed_event_is_an_error_event_not_a_dead_loop(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(scenario(turn(), faults=[Fault(kind="malformed", at_turn=0, phase="before_reply")]))
    session, rec = await nova_session(emulator)
    await speak(session)
    event = await rec.wait_for(RealtimeErrorEvent)
    assert isinstance(event.error, ProtocolError)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert session.connected


async def test_broken_framing_reconnects(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator(
        scenario(turn(), turn("Back."), faults=[Fault(kind="malformed", at_turn=0, phase="after_reply")]),
        malformed="crc",
    )
    session, rec = await nova_session(emulator)
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    dropped = await rec.wait_for(RealtimeDisconnectedEvent)
    assert isinstance(dropped.error, ProtocolError)
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.state_restored
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)


async def test_idle_timeout_is_recovered(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator(idle_timeout_s=0.3)
    session, rec = await nova_session(emulator, silence_fill_ms=3000)  # too slow to keep the stream alive
    error = await rec.wait_for(RealtimeErrorEvent)
    assert "Timed out waiting for input events" in str(error.error) and error.recoverable
    await rec.wait_for(RealtimeReconnectedEvent)
    assert session.connected


async def test_stream_expiry_reconnects(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator(
        scenario(turn(), turn("Still here."), faults=[Fault(kind="expire", at_turn=0, phase="after_reply")])
    )
    session, rec = await nova_session(emulator)
    await speak(session)
    error = await rec.wait_for(RealtimeErrorEvent)
    assert isinstance(error.error, SessionExpiredError) and "timed out" in str(error.error)
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.state_restored
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)


async def test_delay_and_go_away_faults(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    faults = [
        Fault(kind="delay", at_turn=0, phase="before_reply", delay_ms=300),
        Fault(kind="go_away", at_turn=0, phase="after_reply"),
    ]
    emulator = await nova_emulator(scenario(turn(), turn("Later."), faults=faults))
    session, rec = await nova_session(emulator)
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await speak(session)  # GOAWAY lets the open stream go on...
    await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)
    session._core.renew("test")  # ...and the next stream goes to a new connection  # pyright: ignore[reportPrivateUsage]
    await rec.wait_for(RealtimeReconnectedEvent)
    tcp = [m.payload["tcp_connection"] for m in emulator.messages("http.request")]
    assert len(tcp) == 2 and tcp[1] != tcp[0]


async def test_credentials_never_leak(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, token = NovaEmulator.SECRET_ACCESS_KEY, NovaEmulator.SESSION_TOKEN
    emulator = await nova_emulator(scenario(turn()))
    session, rec = await nova_session(emulator)
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    bad = NovaRealtime(**{**emulator.session_options(), "aws_secret_access_key": SecretStr(secret + "x")})
    with pytest.raises(AuthenticationError) as info:
        await bad.connect()
    await bad.close()
    await session.close()
    # (the emulator's own HTTP/2 library logs the headers it decodes: that is the server side)
    client_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("hpack", "h2")))
    texts = [
        client_log,
        repr(session),
        repr(session._config.credentials),  # pyright: ignore[reportPrivateUsage]
        str(info.value),
        repr(info.value),
        *(event.model_dump_json() for event in rec.events if event.type != "realtime.audio_input"),
    ]
    assert "DEBUG" in caplog.text and "smithy" in caplog.text  # the SDK did log its requests
    for text in texts:
        assert secret not in text and token not in text
