"""Ephemeral client secrets: minting with the helper, and connecting with the minted ``ek_`` key."""

from __future__ import annotations

import pytest

from realtime_core import AuthenticationError, ConfigurationError, ConnectionFailedError
from realtime_openai import OpenAIRealtime, create_client_secret

from .helpers import EmulatorFactory, SessionFactory


async def test_mint_a_secret_and_connect_with_it(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(tls=True)
    template = OpenAIRealtime(api_key="sk-unused", instructions="Speak like a pirate.", voice="cedar")
    secret = await create_client_secret(
        emu.api_key,
        session=template.build_session(),
        base_url=f"{emu.base_url}/v1",
        ca_file=emu.ca_file,
        expires_after_seconds=60,
    )
    value = secret.value.get_secret_value()
    assert value.startswith("ek_") and value not in repr(secret)
    assert secret.session["instructions"] == "Speak like a pirate." and secret.expires_at > 0
    s = session(emu, api_key=secret.value)
    await s.connect()
    assert s.connected


async def test_helper_errors_are_typed(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    base = f"{emu.base_url}/v1"
    with pytest.raises(AuthenticationError) as info:
        await create_client_secret("sk-wrong-0123456789", base_url=base)
    assert "sk-wrong-0123456789" not in str(info.value)
    with pytest.raises(ConfigurationError, match="session.modalities"):
        await create_client_secret(emu.api_key, session={"type": "realtime", "modalities": ["audio"]}, base_url=base)
    with pytest.raises(ConfigurationError):
        await create_client_secret(emu.api_key, expires_after_seconds=5, base_url=base)
    await emu.stop()
    with pytest.raises(ConnectionFailedError):
        await create_client_secret(emu.api_key, base_url=base, timeout=2)


async def test_an_expired_or_unknown_secret_is_refused(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, api_key="ek_" + "0" * 32)
    with pytest.raises(AuthenticationError):
        await s.connect()
