"""Setup: what the app configured reaches the provider; errors during setup (contract section 2)."""

from __future__ import annotations

from typing import Any

from realtime_core import ConfigurationError, ProviderError, RealtimeError
from realtime_core.emulator import Fault

from ..clauses import clause, expect, not_exercised
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import SuiteBase, reply_turn, scenario
from .tools import get_time, get_weather

INSTRUCTIONS = "Conformance kit instructions: answer in exactly one short sentence, zebra-7."


async def configured(h: Harness) -> dict[str, Any]:
    """The last ``session_configured`` fact of the first connection (the configuration after setup)."""
    await h.wait_fact("session_configured", connection=1)
    return dict(h.facts("session_configured", connection=1)[-1].data)


def _norm_schema(schema: Any) -> Any:
    """A parameter schema reduced to what must survive any protocol's encoding: property names, their
    (lower-cased) types and the required names."""
    if not isinstance(schema, dict):
        return schema
    props: dict[str, Any] = schema.get("properties") or {}  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return {
        "properties": {
            name: str(prop.get("type", "")).lower() if isinstance(prop, dict) else prop  # pyright: ignore[reportUnknownMemberType]
            for name, prop in props.items()  # pyright: ignore[reportUnknownVariableType]
        },
        "required": sorted(schema.get("required") or []),  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    }


class SetupTests(SuiteBase):
    @clause("instructions_sent", promise="2.1", observes=("session_configured",), offline_only=True)
    async def test_instructions_sent(self, harness: HarnessFactory) -> None:
        """The instructions the app configured reach the provider in the session setup."""
        h = await harness(scenario(reply_turn()), instructions=INSTRUCTIONS)
        config = await configured(h)
        if "instructions" not in config:
            not_exercised("the emulator's session_configured fact does not carry instructions")
        sent = config["instructions"]
        expect(isinstance(sent, str) and INSTRUCTIONS in sent, f"instructions containing {INSTRUCTIONS!r}",
               "none sent" if sent is None else repr(sent))  # fmt: skip

    @clause("tools_sent", promise="2.1", requires=("tools",), observes=("session_configured",), offline_only=True)
    async def test_tools_sent(self, harness: HarnessFactory) -> None:
        """Every tool the app registered reaches the provider with its name, description and parameter schema."""
        h = await harness(scenario(reply_turn()), tools=[get_weather, get_time])
        config = await configured(h)
        if "tools" not in config:
            not_exercised("the emulator's session_configured fact does not carry tools")
        sent = {str(t.get("name")): t for t in config["tools"] or []}
        wanted = {s["name"]: s for s in h.session.tools.schemas()}
        expect(set(sent) == set(wanted), f"tools {sorted(wanted)}", f"tools {sorted(sent)}")
        for name, schema in wanted.items():
            got = sent[name]
            description = str(got.get("description") or "")
            expect(description.strip() == schema["description"].strip(),
                   f"{name}'s description {schema['description']!r}", repr(got.get("description")))  # fmt: skip
            expect(_norm_schema(got.get("parameters")) == _norm_schema(schema["parameters"]),
                   f"{name}'s parameters {_norm_schema(schema['parameters'])}",
                   f"{_norm_schema(got.get('parameters'))} (sent: {got.get('parameters')!r})")  # fmt: skip

    @clause("configuration_sent", promise="2.1", observes=("session_configured",), offline_only=True)
    async def test_configuration_sent(self, harness: HarnessFactory) -> None:
        """The session setup carries the configuration the capabilities declare: audio formats and rates,
        the reply modality, turn detection, the model (for every configuration the plugin names)."""
        configurations: list[tuple[str, dict[str, Any]]] = [("default", {})]
        for name in ("text", "manual"):
            options = self.variant_options(name)
            if options is not None:
                configurations.append((name, options))
        checked = 0
        for name, options in configurations:
            h = await harness(scenario(reply_turn()), **options)
            config = await configured(h)
            for field, want, got in _expected_config(h, config):
                checked += 1
                expect(got == want, f"{field}={want!r} in the {name} configuration's setup",
                       "not sent" if got is None else repr(got))  # fmt: skip
            await h.close()
        if not checked:
            not_exercised("the emulator's session_configured fact carries none of the fields this clause checks")

    @clause("error_during_setup", promise="2.2", offline_only=True)
    async def test_error_during_setup(self, harness: HarnessFactory) -> None:
        """A transient error the provider reports during setup makes connect() raise a recoverable
        ProviderError (not a ConfigurationError), and no event is emitted before it."""
        faults = [Fault(kind="error", after_messages=1, code="server_error", message="emulated setup failure")]
        h = await harness(scenario(reply_turn(), faults=faults), connect=False)
        try:
            await h.connect()
        except RealtimeError as exc:
            error: RealtimeError = exc
        else:
            emulator = h.emulator_or_skip()
            if not type(emulator).observes:  # an emulator from before the framework may send it some other way
                not_exercised("the emulator declares no observations, so the kit cannot tell whether it sent the "
                              "error before answering the setup")  # fmt: skip
            expect(False, "connect() to raise the setup error", f"it connected (events: {h.tail()})")
            return
        expect(isinstance(error, ProviderError) and not isinstance(error, ConfigurationError),
               "a ProviderError for a transient server_error", f"{type(error).__name__}: {error}")  # fmt: skip
        expect(error.recoverable, "recoverable=True for a transient server error", "recoverable=False")
        expect(not h.events, "no event before connect() raised", f"events: {[e.type for e in h.events]}")


def _expected_config(h: Harness, config: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, what the capabilities imply, what the provider received) for every field the fact carries."""
    caps = h.caps
    out: list[tuple[str, Any, Any]] = []

    def rate(value: Any) -> Any:
        return value.get("sample_rate") if isinstance(value, dict) else value

    if "input_audio" in config:
        out.append(("input_audio.sample_rate", caps.input_sample_rate, rate(config["input_audio"])))
    if "output_audio" in config and caps.audio_output:
        out.append(("output_audio.sample_rate", caps.output_sample_rate, rate(config["output_audio"])))
    if "output_modality" in config:
        out.append(("output_modality", "audio" if caps.audio_output else "text", config["output_modality"]))
    if "turn_detection" in config:
        out.append(("turn_detection", "server" if caps.server_vad else "manual", config["turn_detection"]))
    model = h.session.model
    if "model" in config and model is not None:
        out.append(("model", model, config["model"]))
    if "input_transcription" in config and caps.user_transcript != "none":
        out.append(("input_transcription", True, config["input_transcription"]))
    return out
