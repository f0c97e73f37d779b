"""What the transcript shows, one row per turn or note, apart from the widgets that
draw it.

A row is drawn into Strips by one function (`Row.lines`), whether it sits in its own
widget near the bottom (`RowView`) or among the thousands of older rows of the
archive (`TranscriptArchive`): the two look the same by construction, and a row can
move from one to the other, or still change once archived (a transcript that comes
late, an interruption mark), without anything else being laid out again.

Transcript text is never parsed as markup: it goes into `Text` objects (or, for the
assistant, into Markdown, which is what the model writes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

Look = Callable[[str], Style]  # a component class name -> its style in the current theme

BORDER = "▎"
FOLD_CHARS = 1_200  # a longer user message shows its beginning (the journal keeps it all)
# The component classes rows are styled with; every host declares them with this CSS.
ROW_COMPONENTS = {
    "row--text",
    "turn--user-border",
    "turn--assistant-border",
    "turn--user-title",
    "turn--assistant-title",
    "turn--meta",
    "turn--partial",
    "turn--failed",
    "turn--unheard",
    "note--notice",
    "note--error",
    "note--tool",
    "note--tool-failed",
}


def row_css(host: str) -> str:
    """The rows' look, for a host widget type (the same rules for every host)."""
    rules = """
    HOST > .row--text { color: $foreground; }
    HOST > .turn--user-border { color: $vt-user-title; }
    HOST > .turn--assistant-border { color: $vt-assistant-title; }
    HOST > .turn--user-title { color: $vt-user-title; text-style: bold; }
    HOST > .turn--assistant-title { color: $vt-assistant-title; text-style: bold; }
    HOST > .turn--meta { color: $foreground 60%; }
    HOST > .turn--partial { color: $foreground 60%; text-style: italic; }
    HOST > .turn--failed { color: $error; text-style: italic; }
    HOST > .turn--unheard { color: $foreground 45%; text-style: strike; }
    HOST > .note--notice { color: $foreground 70%; }
    HOST > .note--error { color: $error; text-style: bold; }
    HOST > .note--tool { color: $vt-tool-running; }
    HOST > .note--tool-failed { color: $error; }
    """
    return rules.replace("HOST", host)


def _plain(_: str) -> Style:
    return Style()


class RowHost(Protocol):
    """A widget showing rows: told when one of its rows changed."""

    def row_changed(self, row: Row) -> None: ...


class Row:
    """One entry of the transcript; `changed()` after every change of what it shows."""

    border: str | None = None  # the component class of the left border, if any

    def __init__(self) -> None:
        self.host: RowHost | None = None
        self.look: Look = _plain
        self._cache: tuple[int, object, list[Strip]] | None = None

    def attach(self, host: RowHost, look: Look) -> None:
        self.host, self.look = host, look

    def renderable(self) -> RenderableType:
        raise NotImplementedError

    def changed(self) -> None:
        self._cache = None
        if self.host is not None:
            self.host.row_changed(self)

    def forget_lines(self) -> None:
        """Drop the drawn lines (the archive keeps only the rows it shows drawn)."""
        self._cache = None

    def lines(self, width: int, console: Console, style_token: object) -> list[Strip]:
        """The row drawn `width` cells wide: border, padding, content; cached until the
        row, the width or the host's styles (`style_token`) change."""
        cache = self._cache
        if cache is not None and cache[0] == width and cache[1] is style_token:
            return cache[2]
        # Every cell carries the theme's colours: an unstyled space shows the terminal's
        # own background (a black bar beside each message in the light theme).
        base = self.look("row--text")  # unstyled words take the theme's foreground
        space = Segment(" ", base)
        lead = [space]
        if self.border is not None:
            lead = [Segment(BORDER, base + self.look(self.border)), space]
        inner = max(width - len(lead) - 1, 1)
        options = console.options.update(
            width=inner, min_width=inner, max_width=inner, height=None, highlight=False
        )
        rendered = console.render_lines(self.renderable(), options, style=base, pad=True)
        strips = [Strip([*lead, *line, space], width) for line in rendered]
        self._cache = (width, style_token, strips)
        return strips


class TurnRow(Row):
    """A user or assistant turn: a title line (who, when, how) and a body."""

    role = ""

    def __init__(self, item_id: str, started: datetime, show_time: bool) -> None:
        super().__init__()
        self.item_id = item_id
        self.started = started
        self.show_time = show_time
        self.marks: list[str] = []
        self.border = f"turn--{self.role}-border"

    def title(self) -> Text:
        text = Text("You" if self.role == "user" else "Assistant")
        text.stylize(self.look(f"turn--{self.role}-title"))
        meta = self.look("turn--meta")
        if self.show_time:
            text.append(f"  {self.started:%H:%M:%S}", style=meta)
        for mark in self.marks:
            text.append(f"  {mark}", style=meta)
        return text

    def mark(self, label: str) -> None:
        if label not in self.marks:
            self.marks.append(label)
            self.changed()

    def body(self) -> RenderableType:
        return Text("")

    def renderable(self) -> RenderableType:
        return Group(self.title(), self.body())


class UserTurn(TurnRow):
    """A spoken turn (live transcription, then the final one) or a typed one."""

    role = "user"

    def __init__(self, item_id: str, started: datetime, show_time: bool) -> None:
        super().__init__(item_id, started, show_time)
        self.text = ""
        self.final = False
        self.failure: str | None = None

    @property
    def partial(self) -> bool:
        return not self.final

    def body_text(self) -> Text:
        """The body as shown (plain words, styled per state)."""
        if self.failure is not None:
            style = self.look("turn--failed")
            return Text(f"(transcription failed: {self.failure})", style=style)
        if not self.final:
            return Text(self.text or "…", style=self.look("turn--partial"))
        if not self.text:
            return Text("(nothing was understood)", style=self.look("turn--partial"))
        if len(self.text) > FOLD_CHARS:  # a file's text, say: all of it was sent
            body = Text(self.text[:FOLD_CHARS].rstrip() + "…")
            hidden = len(self.text) - FOLD_CHARS
            body.append(f"\n(+{hidden:,} more characters)", style=self.look("turn--meta"))
            return body
        return Text(self.text)

    def body(self) -> RenderableType:
        return self.body_text()

    def add_partial(self, delta: str) -> None:
        if self.final:
            return
        self.text += delta
        self.changed()

    def set_final(self, transcript: str, *, typed: bool = False) -> None:
        self.final = True
        self.failure = None
        self.text = transcript
        if typed and "⌨ typed" not in self.marks:
            self.marks.append("⌨ typed")
        self.changed()

    def set_failed(self, message: str) -> None:
        self.final = True
        self.failure = message
        self.changed()


class AssistantTurn(TurnRow):
    """A finished assistant turn: its Markdown, or what was heard if it was cut off."""

    role = "assistant"

    def __init__(
        self,
        item_id: str,
        started: datetime,
        show_time: bool,
        text: str,
        *,
        marks: list[str] | None = None,
        response_id: str = "",
    ) -> None:
        super().__init__(item_id, started, show_time)
        self.response_id = response_id
        self.text = text
        self.marks = list(marks or [])
        self.interrupted = False
        self.heard = ""
        self.unheard = ""

    def set_interrupted(self, heard: str, unheard: str) -> None:
        self.interrupted = True
        self.heard, self.unheard = heard, unheard
        if "⏹ interrupted" not in self.marks:
            self.marks.append("⏹ interrupted")
        self.changed()

    def body_text(self) -> Text:
        """The interrupted split: heard words plain, unheard ones struck and dimmed."""
        body = Text(self.heard)
        if self.unheard:
            if self.heard and not self.heard.endswith(" ") and not self.unheard.startswith(" "):
                body.append(" ")
            body.append(self.unheard, style=self.look("turn--unheard"))
        return body

    def body(self) -> RenderableType:
        if self.interrupted:
            return self.body_text()
        return RichMarkdown(self.text)


class Note(Row):
    """A notice, an error, or a tool call, inline in the conversation."""

    def __init__(self, text: Text, kind: str) -> None:
        super().__init__()
        self.text = text
        self.kind = kind  # "notice" | "error" | "tool"
        self.failed = False

    def update(self, text: Text, *, failed: bool = False) -> None:
        self.text, self.failed = text, failed
        self.changed()

    def renderable(self) -> RenderableType:
        component = f"note--{self.kind}" + ("-failed" if self.failed else "")
        return Text.assemble(self.text, style=self.look(component))
