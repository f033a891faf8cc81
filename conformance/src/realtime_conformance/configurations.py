"""The configurations a command-line run hands to the test module it generates (same process: pytest runs
in-process, and this module, unlike ``cli`` run as ``python -m``, is imported once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONFIGURATIONS", "Configuration"]


@dataclass
class Configuration:
    """One configuration to run the suite against: a provider, its session options, a report label."""

    provider: str
    label: str
    session_options: dict[str, Any] = field(default_factory=dict[str, Any])
    live: bool = False


CONFIGURATIONS: list[Configuration] = []
"""What the generated test module builds its classes from."""
