"""The voice-tui Textual app: renders engine events, turns keys into engine commands.

It gets everything through `voice_tui.runtime.build_runtime` (engine, backend, audio
worker); it holds no protocol or audio logic of its own. Engine events arrive on the
loop and are re-posted as messages; audio threads only ever `post_message`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.message_pump import MessagePumpClosed
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from voice_tui.config.models import REASONING_EFFORTS, ReasoningEffort
from voice_tui.config.schema import EchoMode, Settings
from voice_tui.core.approval import ApprovalRequest, Decision
from voice_tui.core.events import (
    AppEvent,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
    ImageSent,
    LatencyMeasured,
    Notice,
    PersonaApplied,
    Phase,
    PhaseChanged,
    ResponseFinished,
    SessionReady,
    ToolCallFinished,
    ToolCallStarted,
    TurnMode,
    UserTextSent,
)
from voice_tui.fileio import write_atomically
from voice_tui.mcp_client.connection import ServerState, ServerStatus
from voice_tui.ui import keys
from voice_tui.ui.commands import TURN_MODE_CYCLE, PersonaCommands, app_commands
from voice_tui.ui.export import transcript_markdown
from voice_tui.ui.key_burst import KeyBurst
from voice_tui.ui.messages import (
    AudioProblem,
    EngineEvent,
    LogRecordPosted,
    McpStatusChanged,
    MicLevelChanged,
)
from voice_tui.ui.ports import EngineCommands, Runtime, TalkControls
from voice_tui.ui.saver import ChoiceSaver
from voice_tui.ui.screens.approval import ApprovalScreen
from voice_tui.ui.screens.confirm import ConfirmScreen
from voice_tui.ui.screens.devices import ChosenDevices, DeviceChoice, DeviceScreen
from voice_tui.ui.screens.personas import PersonaScreen
from voice_tui.ui.themes import APP_VARIABLES, BUILTIN_THEME_DIR, load_themes
from voice_tui.ui.typed import (
    Outgoing,
    TypedError,
    file_argument,
    read_message_file,
    too_long_message,
)
from voice_tui.ui.widgets.audio_health import AudioHealth
from voice_tui.ui.widgets.message_input import MessageInput
from voice_tui.ui.widgets.mic_meter import MicMeter
from voice_tui.ui.widgets.status_bar import TURN_MODE_LABELS, StatusBar, offline_parts
from voice_tui.ui.widgets.status_light import StatusLight, light_for
from voice_tui.ui.widgets.tool_log import ToolLog
from voice_tui.ui.widgets.transcript import Clock, Transcript, UserTurn

log = logging.getLogger(__name__)

W = TypeVar("W", bound=Widget)

Connect = Callable[["VoiceApp"], Awaitable[Runtime]]
ListDevices = Callable[[], tuple[list[DeviceChoice], list[DeviceChoice]]]

FALLBACK_THEME = "textual-dark"
AUDIO_HEALTH_EVERY_S = 1.0  # how often the glitch counters are looked at


class VoiceApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "voice-tui"
    BINDINGS: ClassVar[list[Any]] = keys.BINDINGS
    COMMANDS = App.COMMANDS | {PersonaCommands}
    AUTO_FOCUS = None  # keys go to the app (push-to-talk) until the user opens the input

    def __init__(
        self,
        settings: Settings,
        *,
        connect: Connect | None,
        config_path: Path | None = None,
        clock: Clock = datetime.now,
        theme_dirs: Sequence[Path] | None = None,
        list_devices: ListDevices | None = None,
        transcripts_dir: Path | None = None,
        startup_notices: Sequence[str] = (),
    ) -> None:
        super().__init__()
        # Small terminals: the side panel narrows, then goes (its light moves above the
        # transcript); a short one gets a one-line input (app.tcss).
        self.HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (72, "-medium"), (100, "-wide")]
        self.VERTICAL_BREAKPOINTS = [(0, "-short"), (20, "-tall")]
        self.settings = settings
        self._connect = connect
        self._clock = clock
        if theme_dirs is None:
            # The shipped themes, then the user's own next to their config file.
            theme_dirs = [BUILTIN_THEME_DIR]
            if config_path is not None:
                theme_dirs.append(config_path.parent / "themes")
        self._theme_dirs = list(theme_dirs)
        self._list_devices = list_devices
        self._transcripts_dir = transcripts_dir
        self._startup_notices = list(startup_notices)
        self.runtime: Runtime | None = None
        self._engine_parts = ""  # the offline engine's loading progress, then its parts
        self._loading_timer: Timer | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._theme_names: list[str] = []
        self._saver = ChoiceSaver(config_path) if config_path is not None else None
        self._choices_live = False  # set once start-up choices (theme, keymap) are applied
        # What the lights are computed from.
        self.connection = ConnectionState.CONNECTING
        self.phase = Phase.IDLE
        self.error_active = False
        self._configured_turn_mode = TurnMode(settings.session.turn_detection)
        self.persona = settings.active_persona.name
        # For the saved transcript: the persona the conversation began with, and each
        # one chosen after it, with when.
        self._first_persona: str | None = None
        self._persona_changes: list[tuple[float, str]] = []
        self._session_id = ""
        self._meter: MicMeter | None = None  # set once mounted; read by the audio thread
        self._found: dict[tuple[type[Widget], str | None], Widget] = {}
        self._mcp: dict[str, ServerStatus] = {}  # the latest status of each MCP server
        self._mcp_down: set[str] = set()  # servers whose failure was announced
        self._key_burst = KeyBurst()
        # The audio problem already said (by the text-mode note or as an error, whichever
        # came first: the worker may report it before the runtime is attached).
        self._audio_problem_shown: str | None = None
        self._sent_files: dict[str, str] = {}  # text sent with /file -> the file's name

    # -- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="conversation"):
                yield StatusLight(id="light-inline")  # shown when the side panel is not
                yield Transcript(
                    clock=self._clock, show_time=self.settings.ui.show_timestamps, id="transcript"
                )
                yield MessageInput(key_display=self._type_key_display(), id="message")
            with Vertical(id="side"):
                yield StatusLight(id="light")
                yield MicMeter(id="meter")
                yield AudioHealth(id="audio-health")
                yield Static("Tool calls", id="tools-heading")
                yield ToolLog(id="tools")
        yield StatusBar(id="status")
        yield Footer(compact=True)

    def _main(self, widget_type: type[W], selector: str | None = None) -> W:
        """A widget of the main screen, whichever screen is on top (a menu may be open
        while events keep arriving)."""
        # Remembered: several lookups run for every engine event, and a DOM query walks
        # the whole screen.
        found = self._found.get((widget_type, selector))
        if isinstance(found, widget_type) and found.is_attached:
            return found
        main = self.screen_stack[0] if self.screen_stack else self.screen
        if selector is not None:
            widget = main.query_one(selector, widget_type)
        else:
            widget = main.query_one(widget_type)
        self._found[(widget_type, selector)] = widget
        return widget

    @property
    def transcript(self) -> Transcript:
        return self._main(Transcript)

    @property
    def status_bar(self) -> StatusBar:
        return self._main(StatusBar)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(APP_VARIABLES)

    # -- start and stop ------------------------------------------------------------
    async def on_mount(self) -> None:
        self._meter = self._main(MicMeter)
        self._load_themes()
        self._apply_keymap()
        self.status_bar.change(
            persona=self.persona, turn_mode=self.turn_mode, connection=self.connection
        )
        self._refresh_light()
        for notice in self._startup_notices:
            self.notify(notice, markup=False)
        self._choices_live = True
        self.set_interval(AUDIO_HEALTH_EVERY_S, self._show_audio_health)
        if self._connect is not None:
            self._start_runtime()
        else:
            self.connection = ConnectionState.DISCONNECTED
            self.status_bar.change(connection=self.connection)
            self._refresh_light()

    def _show_audio_health(self) -> None:
        audio = self.runtime.audio if self.runtime else None
        if audio is not None and self._main_screen_alive():
            self._main(AudioHealth).show(audio.stats)

    def _load_themes(self) -> None:
        loaded = load_themes(*self._theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        self._theme_names = [t.name for t in loaded.themes]
        if loaded.problems:
            # One notification for all broken files; each is skipped.
            self.notify(
                "\n".join(loaded.problems),
                title="Theme files skipped",
                severity="warning",
                markup=False,
            )
        wanted = self.settings.ui.theme
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            fallback = self._theme_names[0] if self._theme_names else FALLBACK_THEME
            self.notify(
                f"ui.theme {wanted!r} is not a known theme; using {fallback!r}.",
                severity="warning",
                markup=False,
            )
            self.theme = fallback

    def _type_key_display(self) -> str:
        """How the key that focuses the input line is written (it may be remapped)."""
        return self._key_display("type_message", "enter")

    def _apply_keymap(self) -> None:
        try:
            keymap = keys.keymap_from_settings(self.settings.ui.keys)
        except keys.KeymapError as exc:
            self.notify(str(exc), title="Key bindings", severity="error", markup=False)
            return
        if keymap:
            self.set_keymap(keymap)

    def _show_engine_loading(self) -> None:
        """The offline engine loads its models in the background: show the progress,
        then its parts, and say which part fell back."""
        loading = getattr(self.runtime.backend, "loading", None) if self.runtime else None
        if loading is None:
            return
        parts = loading.summary()
        if parts != self._engine_parts:
            self._engine_parts = parts
            self.status_bar.change(engine=offline_parts(self.settings.local, parts))
        if loading.done and self._loading_timer is not None:
            self._loading_timer.stop()
            self._loading_timer = None
            for note in loading.notes:
                self.notify(note, severity="warning", markup=False)

    @work(exclusive=True, group="runtime", exit_on_error=False)
    async def _start_runtime(self) -> None:
        assert self._connect is not None
        try:
            runtime = await self._connect(self)
        except Exception as exc:  # shown to the user; the app stays usable to quit
            self.connection = ConnectionState.FAILED
            self.status_bar.change(connection=self.connection)
            await self._show_error(f"Could not start: {exc}", fatal=True)
            return
        self.runtime = runtime
        self._unsubscribe = runtime.engine.subscribe(self._forward_engine_event)
        runtime.approvals.ask = self.ask_approval
        if runtime.mcp is not None:
            for status in runtime.mcp.statuses():
                self._show_mcp(status, announce=False)
            runtime.mcp.subscribe(self._post_mcp_status)
        self.status_bar.change(**self._engine_info(runtime.backend.name, runtime.backend.model))
        if runtime.engine.conversation:  # --resume: show what was said before
            await self.transcript.show_history(list(runtime.engine.conversation))
        meter = self._main(MicMeter)
        if runtime.text_mode:
            meter.available = False
            problem = runtime.audio_problem or "audio is turned off (audio.enabled = false)"
            said = problem == self._audio_problem_shown
            self._audio_problem_shown = problem
            hint = "Type your messages below; replies are shown here."
            note = f"🔇 Text mode. {hint}" if said else f"🔇 Text mode: {problem}\n{hint}"
            await self.transcript.add_note(Text(note), "notice")
            self._main(Input, "#message").focus()
        self.status_bar.change(echo=self._echo_label())
        if runtime.backend.name == "local":
            self._loading_timer = self.set_interval(0.25, self._show_engine_loading)
        try:
            await runtime.engine.start()
        except Exception as exc:
            from voice_tui.core.engine import EngineError

            if isinstance(exc, EngineError):  # already reported through ErrorRaised
                self.error_active = True
                self._refresh_light()
            else:
                await self._show_error(f"Could not connect: {exc}", fatal=True)

    def _forward_engine_event(self, event: AppEvent) -> None:
        # Called on the loop by the engine; audio chunks are not for the UI.
        if not isinstance(event, AudioChunk):
            self.post_message(EngineEvent(event))

    async def on_unmount(self) -> None:
        await self.shutdown_runtime()

    async def shutdown_runtime(self) -> None:
        runtime, self.runtime = self.runtime, None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if runtime is not None:
            try:
                await runtime.aclose()
            except Exception:
                log.exception("closing the runtime failed")

    # -- thread-safe entry points for the audio worker ----------------------------------
    def post_mic_level(self, rms_dbfs: float, peak_dbfs: float, clipping: bool) -> None:
        """Any thread: a mic level reading (the worker throttles to ~30 Hz). A reading the
        meter would not show differently is dropped here, before it wakes the loop."""
        meter = self._meter
        if meter is not None and not meter.would_change(rms_dbfs, peak_dbfs, clipping):
            return
        self.post_message(MicLevelChanged(rms_dbfs, peak_dbfs, clipping))

    def post_audio_problem(self, problem: str | None) -> None:
        """Any thread: the audio engine's problem (None when it recovered)."""
        self.post_message(AudioProblem(problem))

    # -- rendering engine events -------------------------------------------------------
    async def on_engine_event(self, message: EngineEvent) -> None:
        if not self._main_screen_alive():
            return  # closing: the widgets are gone
        event = message.event
        await self.transcript.handle(event)
        bar = self.status_bar
        match event:
            case PhaseChanged(phase=phase):
                self.phase = phase
                self.error_active = False
                bar.change(echo=self._echo_label())  # the canceller's figure moves per turn
            case ConnectionChanged(state=state, detail=detail, attempt=attempt):
                self.connection = state
                bar.change(connection=state)
                for light in self._lights():
                    light.detail = f"attempt {attempt}" if attempt else ""
                if state is ConnectionState.CONNECTED:
                    self.error_active = False
                    await self.transcript.connection_settled("⚡ Reconnected.")
                elif state is ConnectionState.RECONNECTING and detail:
                    # One line that follows the attempts, not two lines per attempt.
                    await self.transcript.connection_line(f"⟳ Connection lost: {detail}")
                elif state is ConnectionState.DISCONNECTED and detail:
                    await self.transcript.add_note(Text(f"⚡ {state.value}: {detail}"), "notice")
                # FAILED: the error that caused it is already shown, once.
            case SessionReady():
                self._session_id = event.session_id
                self.persona = event.persona
                if self._first_persona is None:
                    self._first_persona = event.persona
                bar.change(
                    **self._engine_info(event.backend, event.model),
                    persona=event.persona,
                    voice=event.voice,
                    turn_mode=event.turn_mode,
                    reasoning=event.reasoning_effort or "",
                )
            case ResponseFinished(usage=usage, totals=totals, status=status):
                bar.change(totals=totals, last_turn=usage or bar.info.last_turn)
                if status == "failed":
                    await self._show_error(
                        f"The response failed: {event.status_detail or 'no detail given'}"
                    )
            case LatencyMeasured(seconds=seconds):
                bar.change(latency_s=seconds)
            case ToolCallStarted():
                await self._main(ToolLog).started(event)
            case ToolCallFinished():
                await self._main(ToolLog).finished(event)
            case ImageSent(description=description):
                await self.transcript.add_note(
                    Text(f"🖼 You showed an image: {description}"), "notice"
                )
            case ErrorRaised(message=text, fatal=fatal):
                self.error_active = True
                self.notify(
                    text,
                    title="Error",
                    severity="error",
                    timeout=10 if fatal else 6,
                    markup=False,
                )
            case Notice(message=text):
                self.notify(text, markup=False)
            case PersonaApplied(name=name):
                changes = self._persona_changes
                if name != (changes[-1][1] if changes else self._first_persona):
                    changes.append((time.time(), name))
                self.persona = name
                bar.change(persona=name)
            case UserTextSent(item_id=item_id, text=text) if text in self._sent_files:
                row = self.transcript.turn(item_id)
                if isinstance(row, UserTurn):
                    row.mark(f"📄 {self._sent_files.pop(text)}")
            case ConversationEnded(reason=reason):
                # An error's end was said by the error itself.
                shown = "an error" if reason.startswith("error:") else reason
                await self.transcript.add_note(Text(f"■ Conversation ended ({shown})."), "notice")
            case _:
                pass
        self._refresh_light()

    def _engine_info(self, backend: str, model: str) -> dict[str, Any]:
        """What the status bar says answers: the offline engine by its parts (the model
        name it is given means nothing there, and nothing is billed)."""
        offline = backend == "local"
        engine = offline_parts(self.settings.local, self._engine_parts) if offline else ""
        return {"backend": backend, "model": model, "engine": engine, "billed": not offline}

    async def _show_error(self, text: str, *, fatal: bool = False) -> None:
        """An error of the UI's own (not from the engine): same treatment."""
        await self.on_engine_event(EngineEvent(ErrorRaised(message=text, fatal=fatal, source="ui")))

    def _lights(self) -> tuple[StatusLight, StatusLight]:
        """The light in the side panel, and its copy for when the panel is hidden."""
        return self._main(StatusLight, "#light"), self._main(StatusLight, "#light-inline")

    def _refresh_light(self) -> None:
        # In text mode the worker lives on (for a device that comes back) but nothing
        # listens: the light must not say "Listening".
        mic = self.runtime is None or not self.runtime.text_mode
        state = light_for(
            self.connection, self.phase, muted=self.muted, error=self.error_active, mic=mic
        )
        for light in self._lights():
            light.state = state

    def _main_screen_alive(self) -> bool:
        # Not a DOM query: this runs for every event and level reading.
        return self._meter is not None and self._meter.is_attached

    def on_mic_level_changed(self, message: MicLevelChanged) -> None:
        if self._meter is not None and self._main_screen_alive():
            self._meter.show_level(message.rms_dbfs, message.peak_dbfs, message.clipping)

    async def on_audio_problem(self, message: AudioProblem) -> None:
        if message.problem and message.problem == self._audio_problem_shown:
            return  # said already, by the text-mode note or as an error
        self._audio_problem_shown = message.problem or None
        if message.problem:
            await self._show_error(f"{message.problem} {self._reopen_hint()}")
        elif self.error_active:  # recovered: the light need not wait for the next turn
            self.error_active = False
            self._refresh_light()

    def _reopen_hint(self) -> str:
        devices = self._key_display("devices", "d")
        return (
            f"To reopen them: press {devices} and Apply, or run “Reopen audio devices” "
            f"from the command palette ({self._key_display('command_palette', 'ctrl+p')})."
        )

    def _key_display(self, binding_id: str, default: str) -> str:
        """How the key of a binding is written, as the user has it (it may be remapped)."""
        key = self.settings.ui.keys.get(binding_id, default).split(",")[0].strip()
        return self.get_key_display(Binding(key, binding_id))

    async def action_reopen_audio(self) -> None:
        """Open the chosen devices again (the audio server came back): the retry."""
        audio = self.runtime.audio if self.runtime else None
        if audio is None:
            self.notify("Audio is off: no devices to reopen.", severity="warning")
            return
        try:
            status = await asyncio.to_thread(audio.reopen)
        except Exception as exc:
            await self._show_error(f"The devices could not be opened: {exc}")
            return
        problem = getattr(status, "problem", None)
        if problem:
            await self._show_error(f"{problem} {self._reopen_hint()}")
            return
        self._audio_back()
        self.notify("Audio devices reopened.")

    def _audio_back(self) -> None:
        """The devices work again: meter, echo label and light say so."""
        if self.runtime is not None:  # back from text mode, perhaps
            self._main(MicMeter).available = not self.runtime.text_mode
        self.status_bar.change(echo=self._echo_label())
        self.error_active = False
        self._refresh_light()

    async def on_log_record_posted(self, message: LogRecordPosted) -> None:
        error = message.levelname in ("ERROR", "CRITICAL")
        self.notify(
            message.text,
            title=message.levelname.title(),
            severity="error" if error else "warning",
            markup=False,
        )

    # -- MCP servers and approvals ------------------------------------------------------
    def _post_mcp_status(self, status: ServerStatus) -> None:
        self.post_message(McpStatusChanged(status))

    async def on_mcp_status_changed(self, message: McpStatusChanged) -> None:
        if self._main_screen_alive():
            self._show_mcp(message.status, announce=True)

    def _show_mcp(self, status: ServerStatus, *, announce: bool) -> None:
        self._mcp[status.name] = status
        ready = sum(s.state is ServerState.READY for s in self._mcp.values())
        failed = [s.name for s in self._mcp.values() if s.state is ServerState.FAILED]
        connecting = sum(s.state is ServerState.CONNECTING for s in self._mcp.values())
        label = f"MCP {ready}/{len(self._mcp)}"
        if connecting:
            label += f" ({connecting} connecting)"
        if failed:
            label += f" ✗ {', '.join(failed)}"
        self.status_bar.change(mcp=label)
        if not announce:
            return
        # Said once per outage (a server that keeps failing retries quietly), and once
        # when it is back; the status bar shows the rest.
        if status.state is ServerState.FAILED and status.name not in self._mcp_down:
            self._mcp_down.add(status.name)
            self.notify(status.describe(), title="MCP server", severity="warning", markup=False)
        elif status.state is ServerState.READY and status.name in self._mcp_down:
            self._mcp_down.discard(status.name)
            self.notify(status.describe(), title="MCP server back", markup=False)

    def action_mcp_status(self) -> None:
        if not self._mcp:
            self.notify("No MCP servers are in use (see `voice-tui mcp`).", markup=False)
            return
        lines = "\n".join(s.describe() for s in self._mcp.values())
        self.notify(lines, title="MCP servers", timeout=10, markup=False)

    async def ask_approval(self, request: ApprovalRequest) -> Decision:
        """The approval dialog; its answer. Several requests queue up as dialogs."""
        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def answered(decision: Decision | None) -> None:
            if not answer.done():
                answer.set_result(decision or Decision.DENY)

        self.push_screen(ApprovalScreen(request), answered)
        decision = await answer
        if decision is Decision.DENY:
            self.notify(f"Denied: {request.tool} ({request.server})", markup=False)
        return decision

    # -- commands ---------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The app's keys belong to the main screen; modal dialogs have their own.
        return not (action in _APP_ACTIONS and len(self.screen_stack) > 1)

    def _engine(self) -> EngineCommands | None:
        """The engine, or None after telling the user why there is none."""
        if self.runtime is None:
            self.notify("Not connected yet.", severity="warning")
            return None
        return self.runtime.engine

    def _talk(self) -> TalkControls | None:
        """Push-to-talk, mute and turn mode, or None after saying why there are none."""
        return self.runtime.talk if self._engine() is not None and self.runtime else None

    # Talk state is the runtime's (engine and microphone agree); the app only shows it.
    @property
    def turn_mode(self) -> TurnMode:
        return self.runtime.talk.turn_mode if self.runtime else self._configured_turn_mode

    @property
    def talking(self) -> bool:
        return self.runtime is not None and self.runtime.talk.talking

    @property
    def muted(self) -> bool:
        return self.runtime is not None and self.runtime.talk.muted

    async def action_push_to_talk(self) -> None:
        if self.turn_mode is not TurnMode.PUSH_TO_TALK:
            self.notify(
                f"Turn mode is {TURN_MODE_LABELS[self.turn_mode]}: just speak "
                "(switch to push-to-talk with the turn mode key).",
                markup=False,
            )
            return
        talk = self._talk()
        if talk is not None:
            await talk.toggle_talking()

    async def action_cycle_turn_mode(self) -> None:
        index = TURN_MODE_CYCLE.index(self.turn_mode)
        await self.set_turn_mode(TURN_MODE_CYCLE[(index + 1) % len(TURN_MODE_CYCLE)])

    async def set_turn_mode(self, mode: TurnMode) -> None:
        talk = self._talk()
        if talk is None:
            return
        try:
            await talk.set_turn_mode(mode)  # an open push-to-talk turn is ended first
        except Exception as exc:
            await self._show_error(f"The turn mode was not changed: {exc}")
            return
        self.status_bar.change(turn_mode=mode)
        self.notify(f"Turn mode: {TURN_MODE_LABELS[mode]}")
        self.save_choice({"session.turn_detection": mode.value})

    async def action_cycle_reasoning_effort(self) -> None:
        current = self.status_bar.info.reasoning
        if not current:
            self.notify("This model does not reason: it takes no effort.", markup=False)
            return
        index = REASONING_EFFORTS.index(current) if current in REASONING_EFFORTS else 0
        await self.set_reasoning_effort(REASONING_EFFORTS[(index + 1) % len(REASONING_EFFORTS)])

    async def set_reasoning_effort(self, effort: ReasoningEffort) -> None:
        engine = self._engine()
        if engine is None:
            return
        try:
            await engine.set_reasoning_effort(effort)
        except Exception as exc:
            await self._show_error(f"The reasoning effort was not changed: {exc}")
            return
        self.status_bar.change(reasoning=effort)
        self.notify(f"Reasoning effort: {effort}", markup=False)
        self.save_choice({"session.reasoning_effort": effort})

    async def action_toggle_mute(self) -> None:
        talk = self.runtime.talk if self.runtime else None
        if talk is None or not talk.set_muted(not talk.muted):
            self.notify("No microphone in text mode.", severity="warning")
            return
        self._main(MicMeter).muted = talk.muted
        if talk.muted:  # a word cut off by the mute leaves no "You …" behind
            await self.transcript.drop_placeholders()
        self._refresh_light()

    async def action_interrupt(self) -> None:
        engine = self._engine()
        if engine is not None:
            await engine.interrupt()

    def action_type_message(self) -> None:
        self._main(Input, "#message").focus()

    async def action_cancel_tools(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        cancelled = await engine.cancel_tools()
        if not cancelled:
            self.notify("No tool is running.", markup=False)

    def action_attach_image(self) -> None:
        box = self._main(Input, "#message")
        box.value = IMAGE_COMMAND + " "
        box.cursor_position = len(box.value)
        box.focus()

    async def attach_image(self, path_text: str) -> bool:
        """Show the assistant an image file; False (after saying why) when not sent."""
        from voice_tui.core.images import ImageError, prepare_image

        engine = self._engine()
        if engine is None:
            return False
        max_side = self.settings.session.image_max_side
        try:  # decoding and scaling a photo takes a moment: off the loop
            image = await asyncio.to_thread(prepare_image, path_text, max_side)
        except ImageError as exc:
            await self._show_error(f"The image was not sent: {exc}")
            return False
        try:
            await engine.send_image(image)
        except Exception as exc:
            await self._show_error(f"The image was not sent: {exc}")
            return False
        return True

    @on(Input.Submitted, "#message")
    async def _send_typed(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        if not line:
            return
        if line == IMAGE_COMMAND or line.startswith(IMAGE_COMMAND + " "):
            if await self.attach_image(line.removeprefix(IMAGE_COMMAND)):
                event.input.clear()
            return  # a bad path stays in the input to be corrected
        engine = self._engine()
        if engine is None:
            return  # the text stays in the input
        argument = file_argument(line)
        outgoing = Outgoing(line)
        if argument is not None:
            try:
                outgoing = await asyncio.to_thread(read_message_file, argument)
            except TypedError as exc:
                self.notify(str(exc), title="Not sent", severity="error", markup=False)
                return  # the command stays in the input, to correct
        if outgoing.source is not None:
            self._sent_files[outgoing.text] = outgoing.source.name
        try:
            await engine.send_text(outgoing.text)
        except Exception as exc:
            self._sent_files.pop(outgoing.text, None)
            await self._show_error(f"The message was not sent: {exc}")
            return  # the text stays in the input, nothing is lost
        event.input.clear()

    async def on_event(self, event: events.Event) -> None:
        # Text the terminal typed out key by key is taken as one paste (key_burst.py);
        # a paste while the keys are commands goes to the input line, not to commands.
        if isinstance(event, events.Key) and not event.is_forwarded:
            burst = self._key_burst.take(event, self._peek_queued, self._drop_peeked)
            if burst is not None:
                self._paste_typed(burst.text, continues=burst.continues)
                if burst.trailing is not None:
                    await super().on_event(burst.trailing)
                return
        elif (
            isinstance(event, events.Paste)
            and not event.is_forwarded
            and len(self.screen_stack) == 1
            and not isinstance(self.focused, MessageInput)
        ):
            self._paste_typed(event.text)
            return
        await super().on_event(event)

    def _peek_queued(self) -> Message | None:
        # Textual's own look-ahead (it merges queued messages the same way).
        try:
            return self._peek_message()
        except MessagePumpClosed:
            return None

    def _drop_peeked(self) -> None:
        self._pending_message = None
        self._message_queue.task_done()

    def _paste_typed(self, text: str, *, continues: bool = False) -> None:
        if len(self.screen_stack) > 1:
            if not continues:
                self.notify("Pasted text ignored: close the menu first.", severity="warning")
            return
        line = self._main(MessageInput)
        if not line.has_focus:
            line.focus()
        line.paste(text, continues=continues)

    def notify_once(self, message: str, **kwargs: Any) -> None:
        """`notify`, unless the very same notification is still on screen."""
        title = kwargs.get("title", "")
        if any(n.message == message and n.title == title for n in self._notifications):
            return
        self.notify(message, **kwargs)

    def on_message_input_too_long(self, message: MessageInput.TooLong) -> None:
        self.notify_once(
            too_long_message(message.attempted, pasted=message.pasted),
            title="Message too long",
            severity="warning",
            timeout=8,
            markup=False,
        )

    def on_key(self, event: events.Key) -> None:
        # Esc leaves the input line so the single-key bindings work again.
        if event.key == "escape" and isinstance(self.focused, Input):
            self.set_focus(None)
            event.stop()

    def action_personas(self) -> None:
        self.push_screen(PersonaScreen(self.settings.personas, self.persona), self._persona_chosen)

    async def _persona_chosen(self, name: str | None) -> None:
        if name:
            await self.choose_persona(name)

    async def choose_persona(self, name: str) -> None:
        """Apply a persona live; offer a new session when its voice must wait for one."""
        engine = self._engine()
        if engine is None:
            return
        try:
            applied: PersonaApplied = await engine.set_persona(name)
        except Exception as exc:
            await self._show_error(f"Persona {name!r} was not applied: {exc}")
            return
        self.persona = applied.name
        self.status_bar.change(persona=applied.name)
        self.save_choice({"session.persona": applied.name})
        if applied.voice_pending:
            self.push_screen(
                ConfirmScreen(
                    f"Persona {applied.name} is active. Its voice can only change in a new "
                    "session (the conversation is kept). Start a new session now?",
                    yes="New session",
                    no="Later",
                ),
                self._new_session_answer,
            )
        else:
            self.notify(f"Persona: {applied.name}", markup=False)

    async def _new_session_answer(self, yes: bool | None) -> None:
        if yes:
            await self.action_new_session()

    async def action_new_session(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        try:
            await engine.new_session()
        except Exception as exc:
            await self._show_error(f"A new session could not start: {exc}")

    def action_devices(self) -> None:
        audio = self.runtime.audio if self.runtime else None
        if audio is None or self._list_devices is None:
            problem = self.runtime.audio_problem if self.runtime else None
            self.notify(problem or "Audio is off: no devices to choose.", severity="warning")
            return
        try:
            inputs, outputs = self._list_devices()
        except Exception as exc:
            self.notify(f"Devices could not be listed: {exc}", severity="error", markup=False)
            return
        self.push_screen(
            DeviceScreen(
                inputs,
                outputs,
                self.settings.audio.input_device,
                self.settings.audio.output_device,
            ),
            self._devices_chosen,
        )

    async def _devices_chosen(self, chosen: ChosenDevices | None) -> None:
        audio = self.runtime.audio if self.runtime else None
        if chosen is None or audio is None:
            return
        try:
            # Reopening streams blocks until the worker thread has done it.
            status = await asyncio.to_thread(
                audio.reopen, input_device=chosen.input_device, output_device=chosen.output_device
            )
        except Exception as exc:
            await self._show_error(f"The devices could not be opened: {exc}")
            return
        problem = getattr(status, "problem", None)
        if problem:
            await self._show_error(problem)
            return
        self.settings.audio.input_device = chosen.input_device
        self.settings.audio.output_device = chosen.output_device
        self._audio_back()
        self.notify("Audio devices changed.")
        self.save_choice(
            {"audio.input_device": chosen.input_device, "audio.output_device": chosen.output_device}
        )

    def _echo_label(self) -> str:
        """The echo handling in force, for the status bar ("" without audio)."""
        runtime = self.runtime
        if runtime is None or runtime.text_mode:
            return ""
        echo = runtime.echo
        if echo is None:
            return "headphones (echo off)"
        state = echo.state
        if state.mode == "half-duplex":
            return "half-duplex"
        label = "echo cancel"
        if state.erle_db is not None:
            label += f" {state.erle_db:.0f} dB"
        if not state.has_reference:
            label += " (no speaker)"
        return label

    def action_cycle_echo_mode(self) -> None:
        runtime = self.runtime
        if runtime is None or runtime.text_mode:
            self.notify("No microphone in text mode.", severity="warning")
            return
        mode = ECHO_MODE_CYCLE[(ECHO_MODE_CYCLE.index(runtime.echo_mode) + 1) % 3]
        runtime.set_echo_mode(mode)
        self.settings.audio.echo = mode
        self.status_bar.change(echo=self._echo_label())
        self.notify(f"Echo handling: {ECHO_MODE_LABELS[mode]}")
        self.save_choice({"audio.echo": mode})

    def action_cycle_theme(self) -> None:
        names = self._theme_names or [FALLBACK_THEME, "textual-light"]
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]

    def watch_theme(self, theme: str) -> None:
        # Any switch after start-up (key, palette) is the user's choice: remember it.
        if self._choices_live and theme != self.settings.ui.theme:
            self.settings.ui.theme = theme
            self.save_choice({"ui.theme": theme})

    def action_save_transcript(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        from voice_tui.config.paths import data_dir

        journal = self.runtime.journal if self.runtime is not None else None
        when = self._clock()
        folder = self._transcripts_dir or data_dir() / "transcripts"
        info = self.status_bar.info
        text = transcript_markdown(
            list(engine.conversation),
            engine.totals,
            # The journal's id, the one `voice-tui history` lists (not the server's).
            session_id=journal.session_id if journal is not None else self._session_id,
            backend=info.backend,
            model=info.model,
            persona=self._first_persona or self.persona,
            persona_changes=self._persona_changes,
            when=when,
        )
        self._write_transcript(folder / f"voice-tui-{when:%Y%m%d-%H%M%S}.md", text)

    @work(thread=True, group="files", exit_on_error=False)
    def _write_transcript(self, path: Path, text: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, text)
        except OSError as exc:
            self.call_from_thread(
                self.notify, f"Transcript not saved: {exc}", severity="error", markup=False
            )
            return
        self.call_from_thread(self.notify, f"Transcript saved to {path}", markup=False)

    async def action_request_quit(self) -> None:
        # Answering: generating, or still being spoken after generation has finished.
        answering = self.runtime is not None and (
            self.runtime.engine.busy or self.phase in _ANSWERING_PHASES
        )
        if answering:
            self.push_screen(
                ConfirmScreen("The assistant is answering. Quit anyway?", yes="Quit"),
                self._quit_answer,
            )
            return
        await self._quit()

    async def action_quit(self) -> None:
        """Textual's own quit key (ctrl+q) asks first too."""
        await self.action_request_quit()

    async def _quit_answer(self, yes: bool | None) -> None:
        if yes:
            await self._quit()

    async def _quit(self) -> None:
        await self.shutdown_runtime()
        self.exit(0)

    # -- saving choices -----------------------------------------------------------------
    def save_choice(self, changes: dict[str, Any]) -> None:
        """Remember a UI choice in the user config, off the event loop."""
        if self._saver is None:
            return
        self._saver.add(changes)
        self._save_pending()

    @work(thread=True, group="save-settings", exit_on_error=False)
    def _save_pending(self) -> None:
        assert self._saver is not None
        try:
            self._saver.write_pending()
        except Exception as exc:  # ConfigError or OSError: say so, keep running
            self.call_from_thread(
                self.notify, f"Settings not saved: {exc}", severity="error", markup=False
            )

    @on(events.DeliveryFailed)
    def _on_delivery_failed(self, event: events.DeliveryFailed) -> None:  # type: ignore[override]  # Textual annotates it DeliveryComplete
        """Instead of Textual's bare "Failed to save screenshot": say why."""
        if event.name == "screenshot":
            event.prevent_default()  # Textual's own notice says nothing of why
            exc = event.exception
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            where = getattr(exc, "filename", None)
            self.notify(
                f"Screenshot not saved{f' to {where}' if where else ''}: {why}",
                title="Screenshot",
                severity="error",
                markup=False,
            )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from app_commands(self)


# Typed in the input line: `/image ~/Pictures/plan.png` shows the assistant an image.
IMAGE_COMMAND = "/image"

ECHO_MODE_CYCLE: tuple[EchoMode, ...] = ("aec", "half-duplex", "off")
ECHO_MODE_LABELS: dict[EchoMode, str] = {
    "aec": "echo cancelling (open speakers)",
    "half-duplex": "half-duplex (mic off while the assistant speaks; interrupt with the key)",
    "off": "off (headphones)",
}

_ANSWERING_PHASES = {Phase.THINKING, Phase.ASSISTANT_SPEAKING, Phase.TOOL_RUNNING}
_APP_ACTIONS = {b.action for b in keys.BINDINGS if isinstance(b, Binding)}
