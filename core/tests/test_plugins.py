"""Discovery through the ``realtime`` entry-point group, load/connect, observer and method hooks."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import realtime_core
from realtime_core import (
    PcmData,
    ProviderNotFoundError,
    RealtimeAudioOutputEvent,
    RealtimeEvent,
    hookimpl,
    register_plugin,
    unregister_plugin,
)
from realtime_core.plugins import reset_plugins
from realtime_core.testing import FakeRealtime


def _dist(site: Path, name: str, version: str, entry_points: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary environment with one good provider distribution and one broken plugin."""
    site = tmp_path / "site"
    (site / "acme_voice").mkdir(parents=True)
    (site / "acme_voice" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from realtime_core import ProviderSpec, hookimpl
            from realtime_core.testing import FakeRealtime

            class AcmeRealtime(FakeRealtime):
                provider_name = "acme"

            @hookimpl
            def realtime_register_providers(register):
                register(ProviderSpec(name="acme", session_class=AcmeRealtime, description="Acme voice"))
            """
        )
    )
    (site / "broken_voice.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    _dist(site, "acme-voice", "1.2.3", "[realtime]\nacme = acme_voice\n")
    _dist(site, "broken-voice", "0.1.0", "[realtime]\nbroken = broken_voice\n")
    monkeypatch.syspath_prepend(str(site))
    reset_plugins()
    yield site
    monkeypatch.undo()
    reset_plugins()


def test_entry_point_provider_is_discovered(site: Path) -> None:
    specs = {s.name: s for s in realtime_core.providers()}
    acme = specs["acme"]
    assert (acme.distribution, acme.version, acme.plugin) == ("acme-voice", "1.2.3", "acme")
    session = realtime_core.load("acme", instructions="hi")
    assert session.provider_name == "acme" and session.instructions == "hi"
    failures = {f.plugin: f for f in realtime_core.plugin_errors()}
    assert "broken" in failures and "broken on purpose" in failures["broken"].error
    plugins = {p.name: p for p in realtime_core.list_plugins()}
    assert plugins["acme"].hooks == ("realtime_register_providers",)


def test_unknown_provider_lists_installed_and_failed(site: Path) -> None:
    with pytest.raises(ProviderNotFoundError) as info:
        realtime_core.load("nope")
    message = str(info.value)
    assert "installed providers:" in message and "acme" in message
    assert "broken" in message and "realtime-nope" not in message  # never a package name built from input
    assert isinstance(info.value, LookupError)


def test_load_plugins_env_restricts(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALTIME_LOAD_PLUGINS", "acme-voice")
    reset_plugins()
    assert [s.name for s in realtime_core.providers()] == ["acme"]
    assert realtime_core.plugin_errors() == []
    monkeypatch.setenv("REALTIME_LOAD_PLUGINS", "")
    reset_plugins()
    assert realtime_core.providers() == []


async def test_connect_context_manager(site: Path) -> None:
    async with realtime_core.connect("acme") as session:
        assert session.connected
    assert not session.connected


async def test_connect_awaited(site: Path) -> None:
    session = await realtime_core.connect("acme")
    try:
        assert session.connected
    finally:
        await session.close()
    with pytest.raises(realtime_core.ConfigurationError, match="did you mean"):
        realtime_core.connect("acme", instructoins="typo")  # option errors raise before any await


def test_duplicate_and_invalid_registrations_are_reported() -> None:
    class Dup:
        @hookimpl
        def realtime_register_providers(self, register: Any) -> None:
            register(realtime_core.ProviderSpec(name="Bad Name", session_class=FakeRealtime))

    name = register_plugin(Dup(), name="dup-test")
    try:
        assert "Bad Name" not in [s.name for s in realtime_core.providers()]
        assert any("lower case" in f.error for f in realtime_core.plugin_errors())
    finally:
        unregister_plugin(name)


class Observer:
    def __init__(self) -> None:
        self.all: list[RealtimeEvent] = []
        self.audio: list[RealtimeAudioOutputEvent] = []
        self.connects = 0
        self.closes = 0

    @hookimpl
    def realtime_on_event(self, event: RealtimeEvent) -> None:  # may take only the arguments it needs
        self.all.append(event)

    @hookimpl
    def realtime_on_audio_output(self, session: Any, event: RealtimeAudioOutputEvent) -> None:
        self.audio.append(event)

    @hookimpl
    def realtime_connect(self, session: Any) -> None:
        self.connects += 1

    @hookimpl
    def realtime_close(self) -> None:
        self.closes += 1

    @hookimpl
    def realtime_on_error(self) -> None:
        raise RuntimeError("observers may be buggy; the session must not care")


class Transformer:
    @hookimpl
    def realtime_audio_input(self, pcm: PcmData) -> PcmData | None:
        return PcmData.silence(pcm.duration_ms, pcm.sample_rate)

    @hookimpl
    def realtime_text_input(self, text: str) -> str:
        return text.upper()


async def test_observer_sees_every_event_in_order() -> None:
    observer = Observer()
    name = register_plugin(observer, name="observer-test")
    try:
        session = FakeRealtime()
        stream = session.events()
        everything = session.events()
        await session.connect()
        await session.simple_response("hello")
        await stream.wait_for(realtime_core.RealtimeAudioOutputDoneEvent, timeout=5)
        session._emit_error_event("something odd")
        await session.close()
    finally:
        unregister_plugin(name)
    app_events = [e async for e in everything]
    assert len(app_events) > 10
    assert observer.all == app_events  # same events, same order
    assert observer.audio and all(isinstance(e, RealtimeAudioOutputEvent) for e in observer.audio)
    assert observer.connects == 1 and observer.closes == 1
    assert isinstance(observer.all[-1], realtime_core.RealtimeDisconnectedEvent)


async def test_method_hooks_can_transform_input() -> None:
    name = register_plugin(Transformer(), name="transformer-test")
    try:
        session = FakeRealtime()
        await session.connect()
        loud = PcmData.tone(500, 16000)
        await session.simple_audio_response(loud)
        await session.simple_response("hello")
        await session.close()
    finally:
        unregister_plugin(name)
    assert session.log.texts == ["HELLO"]
    assert session.history[0].text == "HELLO"
