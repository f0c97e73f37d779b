"""Tools the model can call: the registry and the built-in tools.

`build_registry(settings)` gives a registry holding every built-in tool; a persona picks
which of them the model sees (`registry.definitions(persona.tools)`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from voice_tui.config.paths import data_dir
from voice_tui.config.personas import BUILTIN_TOOL_NAMES
from voice_tui.config.schema import Settings
from voice_tui.core.tools.builtin import END_CONVERSATION, GET_CURRENT_TIME
from voice_tui.core.tools.quotes import quote_tools
from voice_tui.core.tools.registry import (
    JsonObject,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    ToolResult,
)
from voice_tui.core.tools.restaurant import restaurant_tools
from voice_tui.core.tools.weather import GET_WEATHER

__all__ = [
    "JsonObject",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "build_registry",
    "builtin_tool_names",
]

# Tools with state (files, locks) are made per registry from its context.
_BUILTINS: tuple[Callable[[ToolContext], list[Tool]], ...] = (
    lambda ctx: [GET_CURRENT_TIME, END_CONVERSATION],
    restaurant_tools,
    lambda ctx: [GET_WEATHER],
    quote_tools,
)


def builtin_tool_names() -> list[str]:
    """The names the config lets personas list: exactly what _BUILTINS registers (a
    test checks), declared in the config package, which must not import the tools."""
    return list(BUILTIN_TOOL_NAMES)


def tools_data_dir(settings: Settings) -> Path:
    """`tools.data_dir` when set, else the user data dir (VOICE_TUI_DATA_DIR in tests)."""
    configured = settings.tools.data_dir
    return Path(configured).expanduser() if configured else data_dir()


def build_registry(settings: Settings, context: ToolContext | None = None) -> ToolRegistry:
    """A registry of every built-in tool; `context` is a seam (e.g. a fixed clock)."""
    ctx = context or ToolContext(settings=settings.tools, data_dir=tools_data_dir(settings))
    registry = ToolRegistry(ctx)
    for make in _BUILTINS:
        for tool in make(ctx):
            registry.register(tool)
    return registry
