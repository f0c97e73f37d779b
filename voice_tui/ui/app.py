"""The voice-tui Textual app: renders engine events, turns keys into engine commands.

It gets everything through `voice_tui.runtime.build_runtime` (engine, backend, audio
worker); it holds no protocol or audio logic of its own. Engine events arrive on the
loop and are re-posted as messages; audio threads only ever `post_message`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from voice_tui.config.models import REASONING_EFFORTS, ReasoningEffort
from voice_tui.config.schema import EchoMode, Settings
from voice_tui.core.events import (
    AppEvent,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
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
)
from voice_tui.fileio import write_atomically
from voice_tui.ui import keys
from voice_tui.ui.commands import TURN_MODE_CYCLE, PersonaCommands, app_commands
from voice_tui.ui.export import transcript_markdown
from voice_tui.ui.messages import AudioProblem, EngineEvent, LogRecordPosted, MicLevelChanged
from voice_tui.ui.ports import EngineCommands, Runtime, TalkControls
from voice_tui.ui.saver import ChoiceSaver
from voice_tui.ui.screens.confirm import ConfirmScreen
from voice_tui.ui.screens.devices import ChosenDevices, DeviceChoice, DeviceScreen
from voice_tui.ui.screens.personas import PersonaScreen
from voice_tui.ui.themes import APP_VARIABLES, BUILTIN_THEME_DIR, load_themes
from voice_tui.ui.widgets.message_input import MessageInput
from voice_tui.ui.widgets.mic_meter import MicMeter
from voice_tui.ui.widgets.status_bar import TURN_MODE_LABELS, StatusBar
from voice_tui.ui.widgets.status_light import StatusLight, light_for
from voice_tui.ui.widgets.tool_log import ToolLog
from voice_tui.ui.widgets.transcript import Clock, Transcript

log = logging.getLogger(__name__)

W = TypeVar("W", bound=Widget)

Connect = Callable[["VoiceApp"], Awaitable[Runtime]]
ListDevices = Callable[[], tuple[list[DeviceChoice], list[DeviceChoice]]]

FALLBACK_THEME = "textual-dark"


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
        self._session_id = ""
        self._meter: MicMeter | None = None  # set once mounted; read by the audio thread
        self._found: dict[tuple[type[Widget], str | None], Widget] = {}

    # -- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="conversation"):
                yield Transcript(
                    clock=self._clock, show_time=self.settings.ui.show_timestamps, id="transcript"
                )
                yield MessageInput(key_display=self._type_key_display(), id="message")
            with Vertical(id="side"):
                yield StatusLight(id="light")
                yield MicMeter(id="meter")
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
        if self._connect is not None:
            self._start_runtime()
        else:
            self.connection = ConnectionState.DISCONNECTED
            self.status_bar.change(connection=self.connection)
            self._refresh_light()

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
        key = self.settings.ui.keys.get("type_message", "enter").split(",")[0].strip()
        return self.get_key_display(Binding(key, "type_message"))

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
            self.status_bar.change(model=parts)
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
        self.status_bar.change(backend=runtime.backend.name, model=runtime.backend.model)
        if runtime.engine.conversation:  # --resume: show what was said before
            await self.transcript.show_history(list(runtime.engine.conversation))
        meter = self._main(MicMeter)
        if runtime.text_mode:
            meter.available = False
            problem = runtime.audio_problem or "audio is turned off (audio.enabled = false)"
            await self.transcript.add_note(
                Text(f"🔇 Text mode: {problem}\nType your messages below; replies are shown here."),
                "notice",
            )
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
                light = self._main(StatusLight)
                light.detail = f"attempt {attempt}" if attempt else ""
                if state is ConnectionState.CONNECTED:
                    self.error_active = False
                elif detail and state is not ConnectionState.CONNECTING:
                    await self.transcript.add_note(Text(f"⚡ {state.value}: {detail}"), "notice")
            case SessionReady():
                self._session_id = event.session_id
                self.persona = event.persona
                bar.change(
                    backend=event.backend,
                    model=self._engine_parts or event.model,
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
                self.persona = name
                bar.change(persona=name)
            case ConversationEnded(reason=reason):
                await self.transcript.add_note(Text(f"■ Conversation ended: {reason}"), "notice")
            case _:
                pass
        self._refresh_light()

    async def _show_error(self, text: str, *, fatal: bool = False) -> None:
        """An error of the UI's own (not from the engine): same treatment."""
        await self.on_engine_event(EngineEvent(ErrorRaised(message=text, fatal=fatal, source="ui")))

    def _refresh_light(self) -> None:
        mic = self.runtime is None or self.runtime.audio is not None
        self._main(StatusLight).state = light_for(
            self.connection, self.phase, muted=self.muted, error=self.error_active, mic=mic
        )

    def _main_screen_alive(self) -> bool:
        # Not a DOM query: this runs for every event and level reading.
        return self._meter is not None and self._meter.is_attached

    def on_mic_level_changed(self, message: MicLevelChanged) -> None:
        if self._meter is not None and self._main_screen_alive():
            self._meter.show_level(message.rms_dbfs, message.peak_dbfs, message.clipping)

    async def on_audio_problem(self, message: AudioProblem) -> None:
        if message.problem:
            await self._show_error(message.problem)

    async def on_log_record_posted(self, message: LogRecordPosted) -> None:
        error = message.levelname in ("ERROR", "CRITICAL")
        self.notify(
            message.text,
            title=message.levelname.title(),
            severity="error" if error else "warning",
            markup=False,
        )

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

    def action_toggle_mute(self) -> None:
        talk = self.runtime.talk if self.runtime else None
        if talk is None or not talk.set_muted(not talk.muted):
            self.notify("No microphone in text mode.", severity="warning")
            return
        self._main(MicMeter).muted = talk.muted
        self._refresh_light()

    async def action_interrupt(self) -> None:
        engine = self._engine()
        if engine is not None:
            await engine.interrupt()

    def action_type_message(self) -> None:
        self._main(Input, "#message").focus()

    @on(Input.Submitted, "#message")
    async def _send_typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        engine = self._engine()
        if engine is None:
            return  # the text stays in the input
        try:
            await engine.send_text(text)
        except Exception as exc:
            await self._show_error(f"The message was not sent: {exc}")
            return  # the text stays in the input, nothing is lost
        event.input.clear()

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
        if self.runtime is not None:  # back from text mode, perhaps
            self._main(MicMeter).available = not self.runtime.text_mode
        self.status_bar.change(echo=self._echo_label())
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

        when = self._clock()
        folder = self._transcripts_dir or data_dir() / "transcripts"
        info = self.status_bar.info
        text = transcript_markdown(
            list(engine.conversation),
            engine.totals,
            session_id=self._session_id,
            backend=info.backend,
            model=info.model,
            persona=self.persona,
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
        if self.runtime is not None and self.runtime.engine.busy:
            self.push_screen(
                ConfirmScreen("A response is in progress. Quit anyway?", yes="Quit"),
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

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from app_commands(self)


ECHO_MODE_CYCLE: tuple[EchoMode, ...] = ("aec", "half-duplex", "off")
ECHO_MODE_LABELS: dict[EchoMode, str] = {
    "aec": "echo cancelling (open speakers)",
    "half-duplex": "half-duplex (mic off while the assistant speaks; interrupt with the key)",
    "off": "off (headphones)",
}

_APP_ACTIONS = {b.action for b in keys.BINDINGS if isinstance(b, Binding)}
