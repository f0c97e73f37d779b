"""Helpers shared by the tool tests (imported by name; conftest only holds fixtures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from voice_tui.core.tools import ToolRegistry, ToolResult

# A Monday noon in Paris: dates before 2026-06-01 are in the past for the tools.
FIXED_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
TIMEOUT_S = 5.0
MAX_CHARS = 16_000

# make_registry(now=FIXED_NOW) -> a fresh registry over the test's data dir
RegistryFactory = Callable[..., ToolRegistry]


async def call(
    registry: ToolRegistry, name: str, arguments: dict[str, Any] | str
) -> tuple[ToolResult, dict[str, Any]]:
    """Call a tool as the engine does and decode its output (always a JSON object)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    result = await registry.call(name, text, TIMEOUT_S, MAX_CHARS)
    decoded = json.loads(result.output)
    assert isinstance(decoded, dict)
    return result, decoded
