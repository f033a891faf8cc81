"""The ``realtime`` command.

    realtime providers [--json]
    realtime emulate PROVIDER [--port N] [--tls] [--scenario FILE]
    realtime emulate --schema
    realtime demo [--provider openai] [--input in.wav] [--output out.wav] [--scenario FILE]
    realtime talk --provider P --input in.wav --output out.wav [--emulator] [--option key=value ...]
    realtime playground [--provider P] [--emulator] [--scenario FILE] [--host H] [--port N] [--option key=value ...]

Errors are printed as one readable line (exit status 2), never as a traceback; ``--debug`` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigurationError, RealtimeError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime", description="Realtime speech-to-speech providers: list, emulate, demo, talk."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("providers", help="list installed providers and their capabilities")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("emulate", help="serve a provider's emulator until interrupted")
    p.add_argument("provider", nargs="?", help="provider name (see `realtime providers`)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    p.add_argument("--tls", action="store_true", help="serve TLS with a throwaway CA (its path is printed)")
    p.add_argument("--scenario", metavar="FILE", help="a Scenario in JSON or YAML (default: echo)")
    p.add_argument("--schema", action="store_true", help="print the Scenario JSON schema and exit")

    p = sub.add_parser("demo", help="run one spoken exchange against a bundled emulator, offline")
    p.add_argument("--provider", default="openai", help="provider whose emulator to use (default: openai)")
    p.add_argument("--input", metavar="WAV", help="speech to send (default: a bundled question)")
    p.add_argument("--output", metavar="WAV", help="where to write the reply (default: realtime-demo-PROVIDER.wav)")
    p.add_argument("--scenario", metavar="FILE", help="a Scenario for the emulator (default: echo)")
    p.add_argument("--fast", action="store_true", help="send audio as fast as possible, not at real-time pace")

    p = sub.add_parser("talk", help="send a WAV file to a provider and save its spoken reply")
    p.add_argument("--provider", required=True)
    p.add_argument("--input", metavar="WAV", required=True)
    p.add_argument("--output", metavar="WAV", required=True)
    p.add_argument("--emulator", action="store_true", help="talk to the provider's emulator instead")
    p.add_argument("--scenario", metavar="FILE", help="with --emulator: a Scenario for it")
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="session option (repeatable), e.g. --option voice=marin --option instructions='Be brief.'",
    )
    _add_playground_parser(sub)
    return parser


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--option takes KEY=VALUE, got {item!r}")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


def _cmd_providers(args: argparse.Namespace) -> int:
    from .plugins import plugin_errors, providers

    specs = providers()
    if args.json:
        data = [
            {
                "name": s.name,
                "distribution": s.distribution,
                "version": s.version,
                "description": s.description,
                "emulator": s.emulator is not None,
                "capabilities": s.capabilities.model_dump(mode="json"),
            }
            for s in specs
        ]
        print(json.dumps({"providers": data, "errors": [str(e) for e in plugin_errors()]}, indent=2))
        return 0
    if not specs:
        print("No realtime providers installed. Install one, e.g.: pip install realtime-openai")
    else:
        rows = [("NAME", "DISTRIBUTION", "VERSION", "TRANSPORTS", "CAPABILITIES", "EMULATOR")]
        rows += [
            (
                s.name,
                s.distribution or "-",
                s.version or "-",
                ",".join(s.capabilities.transports),
                s.capabilities.summary(),
                "yes" if s.emulator else "no",
            )
            for s in specs
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for failure in plugin_errors():
        print(f"warning: plugin {failure}", file=sys.stderr)
    return 0


async def _cmd_emulate(args: argparse.Namespace) -> int:
    from .emulator.scenario import load_scenario, scenario_json_schema
    from .plugins import get_provider

    if args.schema:
        print(json.dumps(scenario_json_schema(), indent=2))
        return 0
    if not args.provider:
        raise ConfigurationError("name a provider to emulate, e.g. `realtime emulate openai`")
    spec = get_provider(args.provider)
    if spec.emulator is None:
        raise ConfigurationError(f"provider {spec.name!r} ships no emulator")
    scenario = load_scenario(args.scenario) if args.scenario else None
    async with spec.emulator(scenario=scenario, tls=args.tls, port=args.port) as emulator:
        print(f"{spec.name} emulator listening on {emulator.url}", flush=True)
        if emulator.ca_file:
            print(f"trust this CA (TLS): {emulator.ca_file}", flush=True)
        # the emulator's key is a fixed test value, and SecretStr prints masked anyway
        print(f"session options: {json.dumps(emulator.session_options(), default=str)}", flush=True)
        print(f"scenario: {emulator.scenario.name}; press Ctrl+C to stop", flush=True)
        await asyncio.Event().wait()
    return 0


async def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .emulator.scenario import load_scenario

    scenario = load_scenario(args.scenario) if args.scenario else None
    result = await run_demo(
        args.provider,
        input_path=args.input,
        output_path=args.output,
        scenario=scenario,
        realtime_pace=not args.fast,
        out=sys.stdout,
    )
    return 0 if result.reply is not None else 1


async def _cmd_talk(args: argparse.Namespace) -> int:
    from .audio import read_wav, write_wav
    from .demo import run_conversation
    from .emulator.scenario import load_scenario
    from .plugins import get_provider

    spec = get_provider(args.provider)
    audio = read_wav(args.input)
    options = _parse_options(args.option)
    if args.emulator:
        if spec.emulator is None:
            raise ConfigurationError(f"provider {spec.name!r} ships no emulator")
        scenario = load_scenario(args.scenario) if args.scenario else None
        async with spec.emulator(scenario=scenario) as emulator:
            session = spec.create(**{**emulator.session_options(), **options})
            result = await run_conversation(session, audio, out=sys.stdout)
    else:
        session = spec.create(**options)
        print(f"talking to {spec.name} ({audio.duration:.1f} s of audio at real-time pace)", flush=True)
        result = await run_conversation(session, audio, out=sys.stdout)
    if result.reply is None:
        print("No reply audio arrived.", file=sys.stderr)
        return 1
    write_wav(Path(args.output), result.reply)
    print(f"Reply written to {args.output} ({result.reply.duration:.1f} s at {result.reply.sample_rate} Hz)")
    return 0


def _add_playground_parser(sub: Any) -> None:
    p = sub.add_parser("playground", help="talk to a provider from your browser (microphone over WebRTC)")
    p.add_argument("--provider", help="provider selected when the page opens (default: openai)")
    p.add_argument("--emulator", action="store_true", help="talk to the bundled emulators: offline, no key needed")
    p.add_argument("--scenario", metavar="FILE", help="with --emulator: a Scenario for them (default: echo)")
    p.add_argument("--host", default="127.0.0.1", help="interface to serve on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to serve on (default: 8765; 0: any free port)")
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="session option (repeatable); with --provider for that provider only, else for every provider",
    )


async def _cmd_playground(args: argparse.Namespace) -> int:
    from .emulator.scenario import load_scenario
    from .playground import EXTRA_HINT, require_extra

    require_extra()
    try:
        from .playground.server import PlaygroundServer
    except ImportError as exc:
        raise ConfigurationError(f"realtime playground cannot import its dependencies ({exc}); {EXTRA_HINT}") from None
    if args.scenario and not args.emulator:
        raise ConfigurationError("--scenario scripts the emulators: add --emulator")
    server = PlaygroundServer(
        provider=args.provider,
        emulator=args.emulator,
        scenario=load_scenario(args.scenario) if args.scenario else None,
        options=_parse_options(args.option),
        host=args.host,
        port=args.port,
    )
    logging.getLogger("realtime_core.playground").setLevel(logging.DEBUG if args.debug else logging.INFO)
    await server.start()
    try:
        mode = "the bundled emulators (offline)" if args.emulator else "the real services (keys from the environment)"
        print(f"realtime playground: open {server.url} in your browser; talking to {mode}", flush=True)
        print("press Ctrl+C to stop", flush=True)
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.debug:  # the commands report plugin load failures themselves, once
        logging.getLogger("realtime_core.plugins").setLevel(logging.ERROR)
    try:
        if args.command == "providers":
            return _cmd_providers(args)
        handlers = {"emulate": _cmd_emulate, "demo": _cmd_demo, "talk": _cmd_talk, "playground": _cmd_playground}
        return asyncio.run(handlers[args.command](args))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except (RealtimeError, OSError, RuntimeError, ValueError) as exc:
        if args.debug or os.environ.get("REALTIME_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
