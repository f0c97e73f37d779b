"""Textual messages the app posts to itself.

Engine events arrive on the loop thread; mic levels and audio status arrive from the
audio worker thread. Both only ever reach widgets as messages (`post_message` is
thread-safe), never by touching widgets from another thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from voice_tui.core.events import AppEvent
from voice_tui.mcp_client.connection import ServerStatus


@dataclass
class EngineEvent(Message):
    """One conversation engine event, to be rendered."""

    event: AppEvent


@dataclass
class MicLevelChanged(Message):
    """The microphone level (~30 Hz): queued duplicates merge into the newest."""

    rms_dbfs: float
    peak_dbfs: float
    clipping: bool

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MicLevelChanged)


@dataclass
class AudioProblem(Message):
    """The audio engine reports a problem (device lost, stream died) or its end."""

    problem: str | None


@dataclass
class LogRecordPosted(Message):
    """A warning or error logged somewhere in the program, shown in the app."""

    levelname: str
    text: str


@dataclass
class McpStatusChanged(Message):
    """A local MCP server connected, failed, or is connecting again."""

    status: ServerStatus
