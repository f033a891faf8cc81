"""The ``realtime`` command.

    realtime --version
    realtime providers [NAME] [--json]   (providers, then observer plugins; NAME: everything about one)
    realtime emulate PROVIDER [--port N] [--tls] [--scenario FILE] [--latency none|realistic]
    realtime emulate --schema
    realtime demo [--provider openai] [--input in.wav] [--output out.wav] [--scenario FILE]
    realtime talk --provider P --input in.wav --output out.wav [--emulator] [--option key=value ...] [--timeout S]
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
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, RealtimeError

if TYPE_CHECKING:
    from .plugins import PluginInfo, ProviderSpec

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime", description="Realtime speech-to-speech providers: list, emulate, demo, talk."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--version", action="store_true", help="print the versions of realtime-core and its plugins")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("providers", help="list installed providers (NAME: its models, options, capabilities)")
    p.add_argument("name", nargs="?", help="one provider: everything about it")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("emulate", help="serve a provider's emulator until interrupted")
    p.add_argument("provider", nargs="?", help="provider name (see `realtime providers`)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    p.add_argument("--tls", action="store_true", help="serve TLS with a throwaway CA (its path is printed)")
    p.add_argument("--scenario", metavar="FILE", help="a Scenario in JSON or YAML (default: echo)")
    p.add_argument("--schema", action="store_true", help="print the Scenario JSON schema and exit")
    p.add_argument(
        "--latency", choices=("none", "realistic"), default=None,
        help="how long replies take (default: the scenario's, else realistic: ~450 ms to audio, real-time pace)",
    )

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
    p.add_argument(
        "--timeout", type=float, default=30.0, metavar="S",
        help="seconds to wait for the reply once the audio was sent (default 30)",
    )
    _add_playground_parser(sub)
    return parser


def _parse_options(spec: ProviderSpec, items: Sequence[str]) -> dict[str, Any]:
    """``--option key=value`` pairs, typed and checked against the provider's options."""
    from .options import parse_cli_options

    session_class = spec.resolve_session_class()
    if isinstance(session_class, type):
        return parse_cli_options(spec.name, session_class, items)
    raise ConfigurationError(f"{spec.name} does not describe its options; --option cannot be checked")


def _observers(specs: Sequence[ProviderSpec]) -> list[PluginInfo]:
    """Installed plugins that register no provider (observers such as realtime-otel); a plugin whose
    registration failed is not one (it is reported as an error)."""
    from .plugins import list_plugins, plugin_errors

    not_observers = {s.plugin for s in specs} | {f.plugin for f in plugin_errors()}
    return [p for p in list_plugins() if p.name not in not_observers]


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _cmd_version() -> int:
    from . import __version__
    from .plugins import list_plugins

    print(f"realtime-core {__version__}")
    for plugin in list_plugins():
        print(f"  {plugin.name}: {plugin.distribution or '?'} {plugin.version or ''}".rstrip())
    return 0


def _cmd_providers(args: argparse.Namespace) -> int:
    from .plugins import get_provider, plugin_errors, providers
    from .provider_info import describe_observer, describe_provider, provider_lines

    if args.name:
        info = describe_provider(get_provider(args.name))
        print(json.dumps(info, indent=2) if args.json else "\n".join(provider_lines(info)))
        return 0
    specs = providers()
    observers = _observers(specs)
    if args.json:
        data = {
            "providers": [describe_provider(s) for s in specs],
            "observers": [describe_observer(o) for o in observers],
            "errors": [str(e) for e in plugin_errors()],
        }
        print(json.dumps(data, indent=2))
        return 0
    if not specs:
        print("No realtime providers installed. Install one, e.g.: pip install realtime-openai")
    else:
        rows = [("NAME", "FROM", "KEY", "DEFAULT MODEL", "TRANSPORTS", "CAPABILITIES", "EMULATOR")]
        for s in specs:
            caps = s.resolve_capabilities()
            rows.append(
                (
                    s.name,
                    f"{s.distribution or '-'} {s.version or ''}".strip(),
                    s.api_key_env[0] if s.api_key_env else "-",
                    s.default_model or "-",
                    ",".join(caps.transports),
                    caps.summary(),
                    "yes" if s.emulator else "no",
                )
            )
        _print_table(rows)
        print("\n`realtime providers NAME` shows a provider's models, options and capabilities.")
    if observers:
        print("\nObservers (plugins without a provider):")
        _print_table(
            [("NAME", "FROM", "HOOKS")]
            + [(o.name, f"{o.distribution or '-'} {o.version or ''}".strip(), str(len(o.hooks))) for o in observers]
        )
    for failure in plugin_errors():
        print(f"warning: plugin {failure}", file=sys.stderr)
    return 0


def _emulator_factory(spec: ProviderSpec) -> Any:
    from .provider_info import EMULATOR_EXTRA, emulator_available

    factory = spec.resolve_emulator() if emulator_available() else None
    if spec.emulator is None:
        raise ConfigurationError(f"provider {spec.name!r} ships no emulator")
    if factory is None:
        raise ConfigurationError(f"the emulators need extra packages: pip install '{EMULATOR_EXTRA}'")
    return factory


async def _cmd_emulate(args: argparse.Namespace) -> int:
    from .emulator.scenario import Scenario, load_scenario, scenario_json_schema
    from .plugins import get_provider

    if args.schema:
        print(json.dumps(scenario_json_schema(), indent=2))
        return 0
    if not args.provider:
        raise ConfigurationError("name a provider to emulate, e.g. `realtime emulate openai`")
    spec = get_provider(args.provider)
    factory = _emulator_factory(spec)
    scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    latency = getattr(args, "latency", None)
    if latency is not None or scenario.latency is None:  # real services take time: realistic unless told
        scenario = scenario.model_copy(update={"latency": latency or "realistic"})
    async with factory(scenario=scenario, tls=args.tls, port=args.port) as emulator:
        info = emulator.connection_info()
        print(f"{spec.name} emulator listening on {emulator.url}", flush=True)
        # everything an outside client needs, credentials unmasked: they are the emulator's fixed test values
        for line in info.lines():
            print(f"  {line}", flush=True)
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
    output = _writable(Path(args.output))  # before spending a session on it
    audio = read_wav(args.input)
    options = _parse_options(spec, args.option)
    if args.timeout <= 0:
        raise ConfigurationError(f"--timeout must be positive, got {args.timeout}")
    if args.emulator:
        factory = _emulator_factory(spec)
        scenario = load_scenario(args.scenario) if args.scenario else None
        async with factory(scenario=scenario) as emulator:
            session = spec.create(**{**emulator.session_options(), **options})
            result = await run_conversation(session, audio, out=sys.stdout, reply_timeout=args.timeout)
    else:
        session = spec.create(**options)
        print(f"talking to {spec.name} ({audio.duration:.1f} s of audio at real-time pace)", flush=True)
        result = await run_conversation(session, audio, out=sys.stdout, reply_timeout=args.timeout)
    if result.reply is None:
        print(f"No reply audio arrived within {args.timeout:g} s.", file=sys.stderr)
        return 1
    write_wav(output, result.reply)
    print(f"Reply written to {output} ({result.reply.duration:.1f} s at {result.reply.sample_rate} Hz)")
    return 0


def _writable(path: Path) -> Path:
    if path.is_dir():
        raise ConfigurationError(f"--output {path} is a directory; name a .wav file")
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise ConfigurationError(f"--output {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigurationError(f"--output {path} is not writable")
    return path


def _playground_options(args: argparse.Namespace) -> dict[str, Any]:
    """With --provider, --option is typed and checked against it; without, values stay JSON-or-text and
    each provider's sessions check them when built."""
    if args.provider:
        from .plugins import get_provider

        return _parse_options(get_provider(args.provider), args.option)
    options: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--option takes KEY=VALUE, got {item!r}")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


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
        options=_playground_options(args),
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
        if args.version:
            return _cmd_version()
        if args.command is None:
            _parser().print_help()
            return 2
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
