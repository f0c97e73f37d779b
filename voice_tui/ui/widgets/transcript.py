"""The transcript pane: the conversation as it happens.

Rows (rows.py) hold what each turn or note shows. The newest rows each have a small
widget of their own (`RowView`) in a `layout: stream` scroll container, so a new word
only touches its own turn; assistant words stream into a Markdown widget through
`MarkdownStream` (fragments merge when they come faster than they can render). Older
rows move, a batch at a time, into one `TranscriptArchive` widget at the top that draws
only the lines on screen: however long the conversation, the container holds a few
dozen widgets, so a streamed word costs the same at turn 10 and at turn 10,000. A row
can still change after it moved (a transcript that comes late, a mark), and then only
that row is measured again. The pane is anchored: it follows the bottom until the user
scrolls up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual._spatial_map import SpatialMap
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.layout import DockArrangeResult, Layout, WidgetPlacement
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from voice_tui.core.conversation import Role, Turn
from voice_tui.core.events import (
    AppEvent,
    AssistantDelta,
    AssistantFinal,
    AssistantInterrupted,
    AssistantTurnStarted,
    ErrorRaised,
    Notice,
    ResponseFinished,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    UserTextSent,
    UserTranscriptDelta,
    UserTranscriptFailed,
    UserTranscriptFinal,
    UserTurnStarted,
)
from voice_tui.ui.widgets.archive import TranscriptArchive
from voice_tui.ui.widgets.rows import (
    ROW_COMPONENTS,
    AssistantTurn,
    Note,
    Row,
    TurnRow,
    UserTurn,
    row_css,
)
from voice_tui.ui.widgets.transcript_layout import TranscriptLayout

__all__ = ["AssistantTurn", "LiveAssistantTurn", "Note", "Transcript", "UserTurn"]

Clock = Callable[[], datetime]
ARGUMENTS_SHOWN = 60
# Row widgets kept below the archive: when there are more than TAIL_MAX, the oldest
# go into the archive until TAIL_KEEP are left (a batch at a time, not per turn).
TAIL_MAX = 16
TAIL_KEEP = 8
BAND_LINES = 100_000


class RowView(Widget):
    """One row as its own widget (the newest rows): drawn by the row itself."""

    COMPONENT_CLASSES: ClassVar[set[str]] = ROW_COMPONENTS
    DEFAULT_CSS = "RowView { height: auto; margin: 0 0 1 0; }" + row_css("RowView")

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.row = row
        self._style_token = object()
        row.attach(self, self.component_style)

    def component_style(self, name: str) -> Style:
        return self.get_component_rich_style(name)

    def row_changed(self, row: Row) -> None:
        self.refresh(layout=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_token = object()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.row.lines(width, self.app.console, self._style_token))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self.row.lines(width, self.app.console, self._style_token)
        return lines[y] if y < len(lines) else Strip.blank(width)


class LiveAssistantTurn(Vertical):
    """The assistant turn being spoken: words stream into a Textual Markdown widget."""

    DEFAULT_CSS = """
    LiveAssistantTurn { height: auto; margin: 0 0 1 0; padding: 0 1;
                        border-left: wide $vt-assistant-title; }
    LiveAssistantTurn > .live-title { color: $vt-assistant-title; text-style: bold; }
    LiveAssistantTurn > Markdown { margin: 0; padding: 0; background: transparent; }
    LiveAssistantTurn > Markdown > MarkdownParagraph { margin: 0; }
    """

    role = "assistant"

    def __init__(
        self, item_id: str, started: datetime, show_time: bool, response_id: str = ""
    ) -> None:
        super().__init__()
        self.item_id = item_id
        self.response_id = response_id
        self.started = started
        self.show_time = show_time
        self.text = ""
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        title = Text("Assistant")
        if self.show_time:
            title.append(f"  {self.started:%H:%M:%S}  ♪", style="not bold dim")
        yield Static(title, classes="live-title")
        yield Markdown()

    async def append(self, delta: str) -> None:
        if not delta:
            return
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        self.text += delta
        await self._stream.write(delta)

    async def close_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()


def _brief_arguments(arguments: str) -> str:
    flat = " ".join(arguments.split())
    return flat if len(flat) <= ARGUMENTS_SHOWN else flat[: ARGUMENTS_SHOWN - 1] + "…"


AnyTurn = TurnRow | LiveAssistantTurn
Item = Row | LiveAssistantTurn  # what the transcript shows, in order


class Transcript(VerticalScroll):
    """Renders the engine's conversation events: an archive of older rows, then one
    widget per newer row (and the turn being streamed)."""

    DEFAULT_CSS = """
    Transcript { layout: stream; height: 1fr; scrollbar-gutter: stable; }
    """

    def __init__(self, *, clock: Clock, show_time: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._show_time = show_time
        self._archive = TranscriptArchive()
        self._layout = TranscriptLayout()
        self._turns: dict[str, AnyTurn] = {}
        self._tools: dict[str, Note] = {}
        self._answers: dict[str, list[AssistantTurn]] = {}  # response id -> its turns
        self._views: dict[int, RowView] = {}  # id(row) -> its widget, while it has one
        self._connection_note: Note | None = None  # the line of a reconnection under way

    def compose(self) -> ComposeResult:
        yield self._archive

    @property
    def layout(self) -> Layout:
        return self._layout  # `layout: stream`, re-measuring only what changed

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Textual's arrangement, with a spatial map of one band per BAND_LINES lines.

        Textual files each child under every 20-line band it covers; the archive may be
        tens of thousands of lines tall, and the map is rebuilt whenever a streamed word
        changes the layout. With a few dozen children, coarse bands lose nothing."""
        result = super().arrange(size, optimal)
        if result._spatial_map is None:
            bands: SpatialMap[WidgetPlacement] = SpatialMap(grid_height=BAND_LINES)
            bands.insert(
                (p.region.grow(p.margin), p.offset, p.fixed, p.overlay, p)
                for p in result.placements
            )
            result._spatial_map = bands
        return result

    def on_mount(self) -> None:
        self.anchor()

    # -- queries ------------------------------------------------------------------
    def turn(self, item_id: str) -> AnyTurn | None:
        return self._turns.get(item_id)

    def items(self) -> list[Item]:
        """Everything shown, top to bottom."""
        shown: list[Item] = list(self._archive.rows)
        for child in self.children:
            if isinstance(child, RowView):
                shown.append(child.row)
            elif isinstance(child, LiveAssistantTurn):
                shown.append(child)
        return shown

    def turns(self) -> list[AnyTurn]:
        return [i for i in self.items() if isinstance(i, TurnRow | LiveAssistantTurn)]

    def notes(self) -> list[Note]:
        return [i for i in self.items() if isinstance(i, Note)]

    @property
    def archived(self) -> int:
        """How many rows are in the archive (drawn by one widget)."""
        return len(self._archive.rows)

    # -- event handling -----------------------------------------------------------
    async def handle(self, event: AppEvent) -> None:
        match event:
            case SpeechStarted(item_id=item_id):
                await self._user_turn(item_id, None)
            case UserTurnStarted(item_id=item_id, previous_item_id=previous):
                await self._user_turn(item_id, previous)
            case UserTranscriptDelta(item_id=item_id, delta=delta):
                (await self._user_turn(item_id, None)).add_partial(delta)
            case UserTranscriptFinal(item_id=item_id, transcript=transcript):
                (await self._user_turn(item_id, None)).set_final(transcript)
            case UserTranscriptFailed(item_id=item_id, message=message):
                (await self._user_turn(item_id, None)).set_failed(message)
            case UserTextSent(item_id=item_id, text=text):
                (await self._user_turn(item_id, None)).set_final(text, typed=True)
            case AssistantTurnStarted(item_id=item_id, previous_item_id=previous):
                await self._live_turn(item_id, previous, event.response_id)
            case AssistantDelta(item_id=item_id, delta=delta):
                live = await self._live_turn(item_id, None)
                if live is not None:
                    await live.append(delta)
            case AssistantFinal(item_id=item_id, text=text):
                await self._freeze(item_id, text)
            case AssistantInterrupted(item_id=item_id, heard_text=heard, unheard_text=unheard):
                frozen = await self._freeze(item_id, None)
                frozen.set_interrupted(heard, unheard)
            case ResponseFinished(response_id=response_id, status=status):
                await self._response_finished(response_id, status)
            case ToolCallStarted():
                await self._tool_started(event)
            case ToolCallFinished():
                await self._tool_finished(event)
            case ErrorRaised(message=message):
                await self.add_note(Text(f"⚠ {message}"), "error")
            case Notice(message=message) if message.endswith("Reconnecting…"):
                await self.connection_line(f"⟳ {message}")
            case Notice(message=message):
                await self.add_note(Text(f"ℹ {message}"), "notice")
            case _:
                pass

    async def show_history(self, turns: list[Turn]) -> None:
        """Earlier turns (a resumed conversation), as finished turns."""
        shown = await self.append_finished(turns)
        await self.add_note(Text(f"↺ Resumed: {shown} earlier turns"), "notice")

    async def append_finished(self, turns: list[Turn]) -> int:
        """Finished turns at the end, at once: all but the newest straight into the
        archive. Returns how many turns are shown (a turn that only called tools has no
        words: its calls stand for it)."""
        rows: list[Row] = []
        shown = 0
        for turn in turns:
            started = datetime.fromtimestamp(turn.started_at) if turn.started_at else self._clock()
            if turn.text or turn.interrupted or turn.role is Role.USER:
                row = self._finished_row(turn, started)
                self._turns[turn.item_id] = row
                rows.append(row)
                shown += 1
            for call in turn.tool_calls:
                outcome = "✓" if call.ok else f"✗ {call.error or 'failed'}"
                text = f"⚙ {call.name}({_brief_arguments(call.arguments)}) {outcome}"
                rows.append(Note(Text(text), "tool"))
        tail = [c for c in self.children if isinstance(c, RowView | LiveAssistantTurn)]
        if any(isinstance(c, LiveAssistantTurn) for c in tail):
            await self._mount_rows(rows)  # rare: they follow a turn still streaming
            return shown
        # The rows shown so far go first, then the new ones, the newest as widgets.
        older = [c for c in tail if isinstance(c, RowView)]
        keep = max(len(rows) - TAIL_KEEP, 0)
        self._archive.extend([*(view.row for view in older), *rows[:keep]])
        for view in older:
            del self._views[id(view.row)]
        await self.remove_children(older)
        await self._mount_rows(rows[keep:])
        return shown

    def _finished_row(self, turn: Turn, started: datetime) -> TurnRow:
        if turn.role is Role.USER:
            user = UserTurn(turn.item_id, started, self._show_time)
            user.final, user.text = True, turn.text
            if turn.typed:
                user.marks.append("⌨ typed")
            return user
        assistant = AssistantTurn(turn.item_id, started, self._show_time, turn.text)
        if turn.interrupted:
            unheard = turn.text.removeprefix(turn.heard_text)
            assistant.set_interrupted(turn.heard_text, unheard.strip())
        return assistant

    async def add_note(self, text: Text, kind: str) -> Note:
        note = Note(text, kind)
        await self._mount_rows([note])
        return note

    # -- placing rows ------------------------------------------------------------------
    async def _mount_rows(self, rows: list[Row], *, after: Widget | None = None) -> None:
        views = [RowView(row) for row in rows]
        for view in views:
            self._views[id(view.row)] = view
        if views:
            await self.mount_all(views, after=after)
        await self._trim()

    async def _place(self, item: Item, previous_item_id: str | None) -> None:
        """Right after the item it follows when that is shown, else at the end."""
        previous = self._turns.get(previous_item_id) if previous_item_id else None
        if isinstance(item, TurnRow | LiveAssistantTurn):
            self._turns[item.item_id] = item
        if isinstance(previous, Row) and previous in self._archive:
            if isinstance(item, Row):
                self._archive.insert_after(previous, item)
            else:  # a streaming turn needs a widget: the first below the archive
                await self.mount(item, after=self._archive)
            return
        anchor = self._widget_of(previous)
        if anchor is not None and anchor is not self.children[-1]:
            if isinstance(item, Row):
                await self._mount_rows([item], after=anchor)
            else:
                await self.mount(item, after=anchor)
        elif isinstance(item, Row):
            await self._mount_rows([item])
        else:
            await self.mount(item)

    def _widget_of(self, item: Item | None) -> Widget | None:
        if isinstance(item, LiveAssistantTurn):
            return item
        if isinstance(item, Row):
            return self._views.get(id(item))
        return None

    async def _trim(self) -> None:
        """Move the oldest row widgets into the archive when there are too many (never
        past a turn still streaming: the rows must stay in order)."""
        tail = [c for c in self.children if isinstance(c, RowView | LiveAssistantTurn)]
        if len(tail) <= TAIL_MAX:
            return
        moving: list[RowView] = []
        for view in tail[: len(tail) - TAIL_KEEP]:
            if not isinstance(view, RowView):
                break
            moving.append(view)
        if not moving:
            return
        self._archive.extend(view.row for view in moving)
        for view in moving:
            del self._views[id(view.row)]
        await self.remove_children(moving)

    async def connection_line(self, text: str) -> None:
        """The line about a lost connection: written once, then updated per attempt."""
        if self._connection_note is None:
            self._connection_note = await self.add_note(Text(text), "notice")
        else:
            self._connection_note.update(Text(text))

    async def connection_settled(self, text: str) -> None:
        """The connection is back: its line says so, and the next loss gets a new one."""
        if self._connection_note is not None:
            self._connection_note.update(Text(text))
            self._connection_note = None

    async def drop_placeholders(self) -> int:
        """Remove the "You …" rows of speech that produced nothing yet (the microphone
        was muted mid-word): nothing will fill them. Should the server still commit
        that speech, its turn comes back with its transcript. Returns how many went."""
        empty = [
            view
            for view in self.children
            if isinstance(view, RowView)
            and isinstance(view.row, UserTurn)
            and view.row.partial
            and not view.row.text
        ]
        for view in empty:
            row = view.row
            assert isinstance(row, UserTurn)
            self._turns.pop(row.item_id, None)
            del self._views[id(row)]
        if empty:
            await self.remove_children(empty)
        return len(empty)

    # -- turns ---------------------------------------------------------------------------
    async def _user_turn(self, item_id: str, previous_item_id: str | None) -> UserTurn:
        view = self._turns.get(item_id)
        if isinstance(view, UserTurn):
            return view
        user = UserTurn(item_id, self._clock(), self._show_time)
        await self._place(user, previous_item_id)
        return user

    async def _live_turn(
        self, item_id: str, previous_item_id: str | None, response_id: str = ""
    ) -> LiveAssistantTurn | None:
        """The streaming turn; None once the turn is finished (late words are dropped)."""
        view = self._turns.get(item_id)
        if isinstance(view, LiveAssistantTurn):
            return view
        if view is not None:
            return None
        live = LiveAssistantTurn(item_id, self._clock(), self._show_time, response_id)
        await self._place(live, previous_item_id)
        return live

    async def _freeze(self, item_id: str, text: str | None) -> AssistantTurn:
        """End the stream and swap the live turn for a row (one re-render per turn)."""
        view = self._turns.get(item_id)
        if isinstance(view, AssistantTurn):
            return view
        if view is None:
            view = await self._live_turn(item_id, None)
        assert isinstance(view, LiveAssistantTurn)
        await view.close_stream()
        frozen = AssistantTurn(
            item_id, view.started, self._show_time, text or view.text, response_id=view.response_id
        )
        self._turns[item_id] = frozen
        if frozen.response_id:
            self._answers.setdefault(frozen.response_id, []).append(frozen)
        await self._mount_rows([frozen], after=view)
        await view.remove()
        await self._trim()  # the live turn may have held back older rows
        return frozen

    async def _response_finished(self, response_id: str, status: str) -> None:
        # Streaming turns are always widgets below the archive: only those are looked at.
        for live in [c for c in self.children if isinstance(c, LiveAssistantTurn)]:
            if live.response_id in (response_id, ""):
                await self._freeze(live.item_id, None)
        if status == "completed":
            return
        for row in self._answers.get(response_id, []):  # cancelled, failed, incomplete
            if not row.interrupted:
                row.mark(f"⏹ {status}")

    # -- tools ---------------------------------------------------------------------------
    async def _tool_started(self, event: ToolCallStarted) -> None:
        text = Text(f"⚙ {event.name}({_brief_arguments(event.arguments)}) … running")
        self._tools[event.call_id] = await self.add_note(text, "tool")

    async def _tool_finished(self, event: ToolCallFinished) -> None:
        note = self._tools.pop(event.call_id, None)
        if note is None:
            note = await self.add_note(Text(""), "tool")
        outcome = "✓" if event.ok else f"✗ {event.error or 'failed'}"
        note.update(
            Text(
                f"⚙ {event.name}({_brief_arguments(event.arguments)}) "
                f"{outcome} · {event.duration_s * 1000:.0f} ms"
            ),
            failed=not event.ok,
        )
