"""What an app pays before its first session: importing realtime_core, plugin discovery, `realtime providers`.

    .venv/bin/python benchmarks/startup.py [--runs 7]

Each figure is the median wall time of fresh interpreters with bytecode caching on (as an installed
package runs; the first run warms the cache and is not counted). Discovery reads every installed
distribution's entry points and imports each plugin's registration module, which names its session
class, capabilities and emulator as ``"module:name"`` strings, so no provider code loads until used.
`realtime providers` shows each provider's capabilities, so it imports every plugin's capabilities
module: it is the cost of looking, not of starting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

IMPORT = "import time; t = time.perf_counter(); import realtime_core; print(time.perf_counter() - t)"
DISCOVERY = (
    "import time, realtime_core; t = time.perf_counter(); realtime_core.providers(); print(time.perf_counter() - t)"
)
SESSION = (
    "import time, realtime_core; t = time.perf_counter(); realtime_core.load('{provider}', api_key='x'); "
    "print(time.perf_counter() - t)"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
    return env


def inner(code: str, runs: int) -> float:
    """Median seconds the snippet itself reports."""
    out = []
    for i in range(runs + 1):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
        if i:
            out.append(float(res.stdout.strip().splitlines()[-1]))
    return statistics.median(out)


def wall(argv: list[str], runs: int) -> float:
    out = []
    for i in range(runs + 1):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=_env(), check=True)
        if i:
            out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    realtime = os.path.join(os.path.dirname(sys.executable), "realtime")
    rows = [
        ("import realtime_core", inner(IMPORT, args.runs)),
        ("realtime_core.providers() (discovery)", inner(DISCOVERY, args.runs)),
        ("first session object (load('gemini'))", inner(SESSION.format(provider="gemini"), args.runs)),
        ("`realtime providers` (whole process)", wall([realtime, "providers"], args.runs)),
        ("`python -c pass` (the interpreter alone)", wall([sys.executable, "-c", "pass"], args.runs)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
