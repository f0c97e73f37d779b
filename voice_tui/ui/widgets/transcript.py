"""The transcript pane: the conversation as it happens.

Each turn is its own widget in a `layout: stream` scroll container, so a new word
only touches its own turn; assistant words stream into a Markdown widget through
`MarkdownStream` (fragments merge when they come faster than they can render). When a
turn ends it is swapped for a single leaf widget: layout cost then grows with the
number of turns, not with the number of Markdown blocks, and thousands of turns stay
smooth. The pane is anchored: it follows the bottom until the user scrolls up.

Transcript text is never parsed as Rich/Textual markup: it goes into `Text` objects
(or, for the assistant, into Markdown, which is what the model writes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
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

Clock = Callable[[], datetime]
ARGUMENTS_SHOWN = 60


class TurnView(Widget):
    """One turn as a single leaf widget: a title line (who, when, how) and a body.

    Finished turns are leaves so a long transcript stays cheap to lay out; only the
    assistant turn being streamed is a container (`LiveAssistantTurn`).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "turn--title",
        "turn--meta",
        "turn--partial",
        "turn--failed",
        "turn--unheard",
    }
    DEFAULT_CSS = """
    TurnView { height: auto; margin: 0 0 1 0; padding: 0 1; }
    TurnView.user { border-left: wide $vt-user-title; }
    TurnView.assistant { border-left: wide $vt-assistant-title; }
    TurnView.user > .turn--title { color: $vt-user-title; text-style: bold; }
    TurnView.assistant > .turn--title { color: $vt-assistant-title; text-style: bold; }
    TurnView > .turn--meta { color: $foreground 60%; }
    TurnView > .turn--partial { color: $foreground 60%; text-style: italic; }
    TurnView > .turn--failed { color: $error; text-style: italic; }
    TurnView > .turn--unheard { color: $foreground 45%; text-style: strike; }
    """

    def __init__(self, item_id: str, role: str, started: datetime, show_time: bool) -> None:
        super().__init__(classes=role)
        self.item_id = item_id
        self.role = role
        self.started = started
        self.show_time = show_time
        self.marks: list[str] = []

    def title(self) -> Text:
        text = Text("You" if self.role == "user" else "Assistant")
        text.stylize(self.get_component_rich_style("turn--title"))
        meta = self.get_component_rich_style("turn--meta")
        if self.show_time:
            text.append(f"  {self.started:%H:%M:%S}", style=meta)
        for mark in self.marks:
            text.append(f"  {mark}", style=meta)
        return text

    def mark(self, label: str) -> None:
        if label not in self.marks:
            self.marks.append(label)
            self.refresh(layout=True)

    def body(self) -> RenderableType:
        return Text("")

    def render(self) -> RenderableType:
        return Group(self.title(), self.body())


class UserTurn(TurnView):
    """A spoken turn (live transcription, then the final one) or a typed one."""

    def __init__(self, item_id: str, started: datetime, show_time: bool) -> None:
        super().__init__(item_id, "user", started, show_time)
        self.text = ""
        self.final = False
        self.failure: str | None = None

    @property
    def partial(self) -> bool:
        return not self.final

    def body_text(self) -> Text:
        """The body as shown (plain words, styled per state)."""
        if self.failure is not None:
            style = self.get_component_rich_style("turn--failed")
            return Text(f"(transcription failed: {self.failure})", style=style)
        if not self.final:
            return Text(self.text or "…", style=self.get_component_rich_style("turn--partial"))
        if not self.text:
            style = self.get_component_rich_style("turn--partial")
            return Text("(nothing was understood)", style=style)
        return Text(self.text)

    def body(self) -> RenderableType:
        return self.body_text()

    def add_partial(self, delta: str) -> None:
        if self.final:
            return
        self.text += delta
        self.refresh(layout=True)

    def set_final(self, transcript: str, *, typed: bool = False) -> None:
        self.final = True
        self.failure = None
        self.text = transcript
        if typed:
            self.marks.append("⌨ typed")
        self.refresh(layout=True)

    def set_failed(self, message: str) -> None:
        self.final = True
        self.failure = message
        self.refresh(layout=True)


class AssistantTurn(TurnView):
    """A finished assistant turn: its Markdown, or what was heard if it was cut off."""

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
        super().__init__(item_id, "assistant", started, show_time)
        self.response_id = response_id
        self.text = text
        self.marks = list(marks or [])
        self.interrupted = False
        self.heard = ""
        self.unheard = ""

    def set_interrupted(self, heard: str, unheard: str) -> None:
        self.interrupted = True
        self.heard, self.unheard = heard, unheard
        self.mark("⏹ interrupted")

    def body_text(self) -> Text:
        """The interrupted split: heard words plain, unheard ones struck and dimmed."""
        body = Text(self.heard)
        if self.unheard:
            if self.heard and not self.heard.endswith(" ") and not self.unheard.startswith(" "):
                body.append(" ")
            body.append(self.unheard, style=self.get_component_rich_style("turn--unheard"))
        return body

    def body(self) -> RenderableType:
        if self.interrupted:
            return self.body_text()
        return RichMarkdown(self.text)


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


class NoteLine(Static):
    """A notice, an error, or a tool call, inline in the conversation."""

    DEFAULT_CSS = """
    NoteLine { padding: 0 1; margin: 0 0 1 0; color: $foreground 70%; }
    NoteLine.error { color: $error; text-style: bold; }
    NoteLine.tool { color: $vt-tool-running; }
    NoteLine.tool.failed { color: $error; }
    """


def _brief_arguments(arguments: str) -> str:
    flat = " ".join(arguments.split())
    return flat if len(flat) <= ARGUMENTS_SHOWN else flat[: ARGUMENTS_SHOWN - 1] + "…"


class Transcript(VerticalScroll):
    """Renders the engine's conversation events, one widget per turn."""

    DEFAULT_CSS = """
    Transcript { layout: stream; height: 1fr; scrollbar-gutter: stable; }
    """

    def __init__(self, *, clock: Clock, show_time: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._show_time = show_time
        self._turns: dict[str, AnyTurn] = {}
        self._tools: dict[str, NoteLine] = {}

    def on_mount(self) -> None:
        self.anchor()

    # -- queries ------------------------------------------------------------------
    def turn(self, item_id: str) -> AnyTurn | None:
        return self._turns.get(item_id)

    def turns(self) -> list[AnyTurn]:
        return [c for c in self.children if isinstance(c, TurnView | LiveAssistantTurn)]

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
                for view in list(self._turns.values()):
                    if isinstance(view, LiveAssistantTurn) and view.response_id in (
                        response_id,
                        "",
                    ):
                        view = await self._freeze(view.item_id, None)
                    if (
                        isinstance(view, AssistantTurn)
                        and view.response_id == response_id
                        and status != "completed"  # cancelled, failed, incomplete
                        and not view.interrupted
                    ):
                        view.mark(f"⏹ {status}")
            case ToolCallStarted():
                await self._tool_started(event)
            case ToolCallFinished():
                await self._tool_finished(event)
            case ErrorRaised(message=message):
                await self.add_note(Text(f"⚠ {message}"), "error")
            case Notice(message=message):
                await self.add_note(Text(f"ℹ {message}"), "notice")
            case _:
                pass

    async def show_history(self, turns: list[Turn]) -> None:
        """Earlier turns (a resumed conversation), as finished turns, in one mount."""
        views: list[Widget] = []
        shown = 0
        for turn in turns:
            started = datetime.fromtimestamp(turn.started_at) if turn.started_at else self._clock()
            view: TurnView
            if turn.role is Role.USER:
                user = UserTurn(turn.item_id, started, self._show_time)
                user.final, user.text = True, turn.text
                if turn.typed:
                    user.marks.append("⌨ typed")
                view = user
            else:
                assistant = AssistantTurn(turn.item_id, started, self._show_time, turn.text)
                if turn.interrupted:
                    unheard = turn.text.removeprefix(turn.heard_text)
                    assistant.set_interrupted(turn.heard_text, unheard.strip())
                view = assistant
            # A turn that only called tools has no words: its calls stand for it.
            if turn.text or turn.interrupted or turn.role is Role.USER:
                self._turns[turn.item_id] = view
                views.append(view)
                shown += 1
            for call in turn.tool_calls:
                outcome = "✓" if call.ok else f"✗ {call.error or 'failed'}"
                text = f"⚙ {call.name}({_brief_arguments(call.arguments)}) {outcome}"
                views.append(NoteLine(Text(text), classes="tool"))
        views.append(NoteLine(Text(f"↺ Resumed: {shown} earlier turns"), classes="notice"))
        await self.mount_all(views)

    async def add_note(self, text: Text, kind: str) -> NoteLine:
        note = NoteLine(text, classes=kind)
        await self.mount(note)
        return note

    async def _place(self, view: AnyTurn, previous_item_id: str | None) -> None:
        """Mount after the item it follows when that is shown, else at the end."""
        previous = self._turns.get(previous_item_id) if previous_item_id else None
        self._turns[view.item_id] = view
        if previous is not None and previous is not self.children[-1]:
            await self.mount(view, after=previous)
        else:
            await self.mount(view)

    async def _user_turn(self, item_id: str, previous_item_id: str | None) -> UserTurn:
        view = self._turns.get(item_id)
        if isinstance(view, UserTurn):
            return view
        view = UserTurn(item_id, self._clock(), self._show_time)
        await self._place(view, previous_item_id)
        return view

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
        """End the stream and swap the live turn for a leaf (one re-render per turn)."""
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
        await self.mount(frozen, after=view)
        await view.remove()
        return frozen

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
            )
        )
        note.set_class(not event.ok, "failed")


AnyTurn = TurnView | LiveAssistantTurn
