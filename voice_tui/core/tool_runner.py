"""Running one tool call for the engine: the registry never raises, but a tool that
slips through still becomes an error result the model can read."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from voice_tui.config.schema import SessionSettings
from voice_tui.core.conversation import ToolCallRecord
from voice_tui.core.tools import ToolImage, ToolRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    record: ToolCallRecord
    ends_conversation: bool
    images: tuple[ToolImage, ...] = ()  # shown to the model after the output


async def run_tool_call(
    tools: ToolRegistry, session: SessionSettings, call_id: str, name: str, arguments: str
) -> ToolOutcome:
    try:
        result = await tools.call(
            name, arguments, session.tool_timeout_s, session.tool_output_max_chars
        )
    except Exception as exc:  # the registry should never raise; be safe anyway
        log.exception("tool %s raised", name)
        error = f"{type(exc).__name__}: {exc}"
        output = json.dumps({"error": error})
        return ToolOutcome(ToolCallRecord(call_id, name, arguments, output, False, error), False)
    record = ToolCallRecord(
        call_id, name, arguments, result.output, result.ok, result.error, result.duration_s
    )
    return ToolOutcome(record, result.ends_conversation, result.images)
