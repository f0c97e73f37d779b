"""The tool-call log: each call with its name, arguments, result or error, duration."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from voice_tui.core.events import ToolCallFinished, ToolCallStarted

MAX_ENTRIES = 200
MAX_SHOWN_CHARS = 400


def _clip(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ToolEntry(Static):
    DEFAULT_CSS = """
    ToolEntry { padding: 0 1; margin-bottom: 1; }
    ToolEntry.running { border-left: thick $vt-tool-running; }
    ToolEntry.ok { border-left: thick $success; }
    ToolEntry.failed { border-left: thick $error; }
    """

    def __init__(self, started: ToolCallStarted) -> None:
        self.call_id = started.call_id
        self.server = started.server
        super().__init__(self._text(started.name, started.arguments, None), classes="running")

    def _text(self, name: str, arguments: str, finished: ToolCallFinished | None) -> Text:
        text = Text()
        if self.server:  # a remote MCP server's tool: the service calls it
            text.append(f"{self.server} ▸ ", style="dim")
        text.append(name, style="bold")
        if finished is None:
            text.append("  running…", style="italic")
        else:
            mark = "✓" if finished.ok else "✗"
            text.append(f"  {mark} {finished.duration_s * 1000:.0f} ms")
        text.append("\nargs  ", style="dim")
        text.append(_clip(arguments or "{}"))
        if finished is not None:
            if finished.ok:
                text.append("\nresult  ", style="dim")
                text.append(_clip(finished.output))
            else:
                text.append("\nerror  ", style="bold")
                text.append(_clip(finished.error or finished.output))
        return text

    def finish(self, finished: ToolCallFinished) -> None:
        self.update(self._text(finished.name, finished.arguments, finished))
        self.set_class(False, "running")
        self.set_class(finished.ok, "ok")
        self.set_class(not finished.ok, "failed")


class ToolLog(VerticalScroll):
    DEFAULT_CSS = """
    ToolLog { height: 1fr; }
    ToolLog > #tool-log-empty { color: $foreground 50%; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._entries: dict[str, ToolEntry] = {}

    def compose(self) -> ComposeResult:
        yield Static("No tool calls yet.", id="tool-log-empty")

    async def started(self, event: ToolCallStarted) -> None:
        for empty in self.query("#tool-log-empty"):
            await empty.remove()
        entry = ToolEntry(event)
        self._entries[event.call_id] = entry
        await self.mount(entry)
        if len(self._entries) > MAX_ENTRIES:
            oldest = next(iter(self._entries))
            await self._entries.pop(oldest).remove()
        self.scroll_end(animate=False)

    async def finished(self, event: ToolCallFinished) -> None:
        entry = self._entries.get(event.call_id)
        if entry is None:  # a call that started before the log existed
            await self.started(
                ToolCallStarted(
                    call_id=event.call_id,
                    name=event.name,
                    arguments=event.arguments,
                    server=event.server,
                )
            )
            entry = self._entries[event.call_id]
        entry.finish(event)

    def entry(self, call_id: str) -> ToolEntry | None:
        return self._entries.get(call_id)
