"""The conversation as the application remembers it: a list of finished turns.

This record outlives any one connection. It is what the journal writes, what
`voice-tui history` exports, and what is replayed into a new session after a
reconnect or `--resume`, so the assistant still knows what was said.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from voice_tui.core.usage import TurnUsage


class Role(enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(slots=True)
class ToolCallRecord:
    call_id: str
    name: str
    arguments: str
    output: str
    ok: bool
    error: str | None = None
    duration_s: float = 0.0


@dataclass(slots=True)
class Turn:
    role: Role
    item_id: str
    text: str = ""  # user transcript or typed text; assistant transcript or text
    typed: bool = False  # user turn typed rather than spoken
    interrupted: bool = False
    heard_text: str = ""  # for interrupted assistant turns: the part the user heard
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    usage: TurnUsage | None = None
    started_at: float = 0.0  # wall-clock (time.time()) seconds
    finished_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "item_id": self.item_id,
            "text": self.text,
            "typed": self.typed,
            "interrupted": self.interrupted,
            "heard_text": self.heard_text,
            "tool_calls": [
                {
                    "call_id": c.call_id,
                    "name": c.name,
                    "arguments": c.arguments,
                    "output": c.output,
                    "ok": c.ok,
                    "error": c.error,
                    "duration_s": c.duration_s,
                }
                for c in self.tool_calls
            ],
            "usage": self.usage.to_json() if self.usage else None,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Turn:
        usage = data.get("usage")
        return cls(
            role=Role(data["role"]),
            item_id=str(data.get("item_id", "")),
            text=str(data.get("text", "")),
            typed=bool(data.get("typed", False)),
            interrupted=bool(data.get("interrupted", False)),
            heard_text=str(data.get("heard_text", "")),
            tool_calls=[ToolCallRecord(**c) for c in data.get("tool_calls", [])],
            usage=TurnUsage.from_json(usage) if usage else None,
            started_at=float(data.get("started_at", 0.0)),
            finished_at=float(data.get("finished_at", 0.0)),
        )

    # The engine changes a turn only through these, so each write has one author.

    def add_text(self, delta: str) -> None:
        self.text += delta

    def set_text(self, text: str) -> None:
        self.text = text

    def replace_ending(self, old: str, new: str) -> None:
        """A final transcript replaces the streamed text of the item that ends the turn."""
        if self.text.endswith(old):
            self.text = self.text[: len(self.text) - len(old)] + new

    def finish(self, at: float, usage: TurnUsage | None = None) -> None:
        """Ended at `at`, having cost `usage` (None: not reported)."""
        self.finished_at = at
        self.usage = usage

    def finish_once(self, at: float) -> None:
        """Stamp the end time unless it has one already."""
        if not self.finished_at:
            self.finished_at = at

    def cut_off(self, heard_text: str) -> None:
        """The assistant was stopped: only `heard_text` of it reached the user."""
        self.interrupted = True
        self.heard_text = heard_text

    @property
    def spoken_text(self) -> str:
        """What the other side actually got: the heard part of an interrupted turn."""
        return self.heard_text if self.interrupted else self.text
