"""What an app install costs: packages and megabytes of ``pip install realtime-core realtime-<provider>``.

Builds the wheels of this checkout, installs them into a fresh virtual environment (dependencies from
PyPI), and counts the installed distributions (pip itself excluded) and the size of site-packages.

    .venv/bin/python benchmarks/footprint.py [gemini] [--extra emulator]

Needs network access to PyPI (or a wheel cache) and ``uv`` (``.tools/bin/uv``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "bin" / "uv"


def build(package: str, out: Path) -> Path:
    subprocess.run([str(UV), "build", "--quiet", "--wheel", "--package", package, "--out-dir", str(out)], cwd=ROOT, check=True)
    return next(out.glob(f"{package.replace('-', '_')}-*.whl"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("providers", nargs="*", default=["gemini"], help="provider plugins to install with core")
    ap.add_argument("--extra", action="append", default=[], help="core extras to add (emulator, video)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        venv = Path(tmp) / "venv"
        targets = [build("realtime-core", wheels)]
        targets += [build(f"realtime-{name}", wheels) for name in args.providers]
        subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        python = venv / "bin" / "python"
        core = f"{targets[0]}[{','.join(args.extra)}]" if args.extra else str(targets[0])
        subprocess.run(
            [str(UV), "pip", "install", "--quiet", "--python", str(python), "--find-links", str(wheels), core, *map(str, targets[1:])],
            check=True,
        )
        listed = subprocess.run([str(UV), "pip", "list", "--python", str(python), "--format", "freeze"], capture_output=True, text=True, check=True)
        packages = sorted(line.split("==")[0] for line in listed.stdout.splitlines() if line and not line.startswith("pip=="))
        site = next((venv / "lib").glob("python3.*/site-packages"))
        size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        extras = f"[{','.join(args.extra)}]" if args.extra else ""
        print(f"pip install realtime-core{extras} {' '.join('realtime-' + p for p in args.providers)}")
        print(f"  {len(packages)} packages, {size / 1e6:.0f} MB in site-packages")
        print("  " + ", ".join(packages))


if __name__ == "__main__":
    main()
