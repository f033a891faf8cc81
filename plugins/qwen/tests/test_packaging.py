"""realtime-qwen stands on realtime-openai-protocol, not on realtime-openai (issue 11): installing it adds the
qwen provider and no other, and no module of it imports realtime_openai."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

import realtime_qwen

SRC = Path(realtime_qwen.__file__).parent


def _requirements(dist: str) -> set[str]:
    """The distributions ``dist`` requires when installed without extras (normalised names)."""
    names: set[str] = set()
    for req in metadata.requires(dist) or ():
        if "extra ==" in req:
            continue
        match = re.match(r"[A-Za-z0-9._-]+", req)
        assert match is not None, req
        names.add(re.sub(r"[-_.]+", "-", match.group(0)).lower())
    return names


def _closure(dist: str) -> set[str]:
    seen: set[str] = set()
    todo = [dist]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            todo.extend(_requirements(name))
        except metadata.PackageNotFoundError:
            continue  # an optional platform dependency not installed here
    return seen


def test_the_declared_requirements_name_the_protocol_not_the_openai_plugin() -> None:
    required = _requirements("realtime-qwen")
    assert "realtime-openai-protocol" in required and "realtime-core" in required
    assert "realtime-openai" not in required


def test_installing_it_registers_only_the_qwen_provider() -> None:
    """What ``pip install realtime-core realtime-qwen`` brings: every distribution in its closure, and of
    their entry points in the ``realtime`` group (what ``realtime providers`` lists) only qwen's."""
    closure = _closure("realtime-qwen") | _closure("realtime-core")
    assert "realtime-openai" not in closure
    registered = {
        ep.name
        for name in closure
        for ep in _entry_points(name)
        if ep.group == "realtime"
    }
    assert registered == {"qwen"}


def _entry_points(dist: str) -> list[metadata.EntryPoint]:
    try:
        return list(metadata.distribution(dist).entry_points)
    except metadata.PackageNotFoundError:
        return []


def test_no_module_imports_realtime_openai() -> None:
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if name == "realtime_openai" or name.startswith("realtime_openai."):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {name}")
    assert not offenders, offenders
    assert (SRC / "protocol.py").exists() and (SRC / "transport.py").exists() and not (SRC / "link.py").exists()
