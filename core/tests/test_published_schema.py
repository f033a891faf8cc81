"""The Scenario JSON schema published in docs/ matches the code."""

from __future__ import annotations

import json
from pathlib import Path

from realtime_core.emulator import scenario_json_schema

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "scenario.schema.json"


def test_published_schema_is_current() -> None:
    published = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert published == scenario_json_schema(), "regenerate with: realtime emulate --schema > docs/scenario.schema.json"
