"""The VAD status light: what the conversation is doing, by colour AND glyph + label."""

from __future__ import annotations

import enum

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from voice_tui.core.events import ConnectionState, Phase


class LightState(enum.Enum):
    # value: (css class, glyph, label); every glyph and label differs, so the state
    # reads without colour too.
    IDLE = ("idle", "○", "Idle")
    LISTENING = ("listening", "◎", "Listening")
    USER_SPEAKING = ("user-speaking", "●", "You are speaking")
    THINKING = ("thinking", "◔", "Thinking")
    ASSISTANT_SPEAKING = ("assistant-speaking", "♪", "Assistant speaking")
    TOOL_RUNNING = ("tool-running", "⚙", "Running a tool")
    MUTED = ("muted", "⊘", "Muted")
    CONNECTING = ("connecting", "↻", "Connecting")
    RECONNECTING = ("reconnecting", "⟳", "Reconnecting")
    DISCONNECTED = ("disconnected", "✕", "Disconnected")
    ERROR = ("error", "⚠", "Error")

    @property
    def css_class(self) -> str:
        return f"light-{self.value[0]}"

    @property
    def glyph(self) -> str:
        return self.value[1]

    @property
    def label(self) -> str:
        return self.value[2]


_PHASE_LIGHT = {
    Phase.IDLE: LightState.IDLE,
    Phase.LISTENING: LightState.LISTENING,
    Phase.USER_SPEAKING: LightState.USER_SPEAKING,
    Phase.THINKING: LightState.THINKING,
    Phase.ASSISTANT_SPEAKING: LightState.ASSISTANT_SPEAKING,
    Phase.TOOL_RUNNING: LightState.TOOL_RUNNING,
}

# While muted, the phases that are about the user's microphone show "muted" instead.
_MIC_PHASES = {Phase.IDLE, Phase.LISTENING, Phase.USER_SPEAKING}


def light_for(
    connection: ConnectionState, phase: Phase, *, muted: bool, error: bool, mic: bool = True
) -> LightState:
    """The one light to show: connection trouble, then an error, then mute, then phase.
    Without a microphone (text mode) nothing is listened to: idle instead."""
    if connection is ConnectionState.CONNECTING:
        return LightState.CONNECTING
    if connection is ConnectionState.RECONNECTING:
        return LightState.RECONNECTING
    if connection is ConnectionState.FAILED:
        return LightState.ERROR
    if connection is ConnectionState.DISCONNECTED:
        return LightState.DISCONNECTED
    if error:
        return LightState.ERROR
    if muted and phase in _MIC_PHASES:
        return LightState.MUTED
    if not mic and phase is Phase.LISTENING:
        return LightState.IDLE
    return _PHASE_LIGHT[phase]


class StatusLight(Static):
    """One pill: glyph and label on the state's colour."""

    DEFAULT_CSS = """
    StatusLight { width: 1fr; height: 1; text-style: bold; padding: 0 1;
                  color: $background; background: $vt-idle; }
    StatusLight.light-listening { background: $vt-listening; }
    StatusLight.light-user-speaking { background: $vt-user-speaking; }
    StatusLight.light-thinking { background: $vt-thinking; }
    StatusLight.light-assistant-speaking { background: $vt-assistant-speaking; }
    StatusLight.light-tool-running { background: $vt-tool-running; }
    StatusLight.light-muted { background: $vt-muted; }
    StatusLight.light-connecting { background: $vt-connecting; }
    StatusLight.light-reconnecting { background: $vt-reconnecting; }
    StatusLight.light-disconnected { background: $vt-offline; }
    StatusLight.light-error { background: $vt-error; }
    """

    state: reactive[LightState] = reactive(LightState.CONNECTING)
    detail: reactive[str] = reactive("")

    def render(self) -> Text:
        text = Text(f"{self.state.glyph} {self.state.label}")
        if self.detail:
            text.append(f" · {self.detail}")
        return text

    def watch_state(self, old: LightState, new: LightState) -> None:
        self.remove_class(old.css_class)
        self.add_class(new.css_class)

    def on_mount(self) -> None:
        self.add_class(self.state.css_class)
