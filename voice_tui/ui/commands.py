"""The command palette: every action, each turn mode and each persona by name."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Protocol, cast

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from voice_tui.config.models import REASONING_EFFORTS, ReasoningEffort
from voice_tui.config.schema import Settings
from voice_tui.core.events import TurnMode
from voice_tui.ui.widgets.status_bar import TURN_MODE_LABELS

TURN_MODE_CYCLE = (TurnMode.PUSH_TO_TALK, TurnMode.SERVER_VAD, TurnMode.SEMANTIC_VAD)


class CommandTarget(Protocol):
    """What the palette calls on the app (VoiceApp), without importing it."""

    @property
    def settings(self) -> Settings: ...
    def set_turn_mode(self, mode: TurnMode) -> object: ...
    def set_reasoning_effort(self, effort: ReasoningEffort) -> object: ...
    def choose_persona(self, name: str) -> object: ...
    def action_push_to_talk(self) -> object: ...
    def action_toggle_mute(self) -> object: ...
    def action_interrupt(self) -> object: ...
    def action_type_message(self) -> object: ...
    def action_personas(self) -> object: ...
    def action_devices(self) -> object: ...
    def action_cycle_theme(self) -> object: ...
    def action_save_transcript(self) -> object: ...
    def action_new_session(self) -> object: ...


def app_commands(app: CommandTarget) -> Iterator[SystemCommand]:
    """Every key's action in the command palette, and each turn mode by name."""
    yield SystemCommand("Talk (push-to-talk)", "Start or end your turn", app.action_push_to_talk)
    for mode in TURN_MODE_CYCLE:
        yield SystemCommand(
            f"Turn mode: {TURN_MODE_LABELS[mode]}",
            "How your turn ends, applied live",
            partial(app.set_turn_mode, mode),
        )
    for effort in REASONING_EFFORTS:
        yield SystemCommand(
            f"Reasoning effort: {effort}",
            "How hard a reasoning model thinks before it answers, applied live",
            partial(app.set_reasoning_effort, effort),
        )
    yield SystemCommand("Mute microphone", "Toggle the microphone", app.action_toggle_mute)
    yield SystemCommand("Interrupt", "Stop the assistant", app.action_interrupt)
    yield SystemCommand("Type a message", "Focus the input line", app.action_type_message)
    yield SystemCommand("Personas…", "Choose a persona", app.action_personas)
    yield SystemCommand("Devices…", "Choose microphone and speaker", app.action_devices)
    yield SystemCommand("Next theme", "Switch the colour theme", app.action_cycle_theme)
    yield SystemCommand(
        "Save transcript", "Write the conversation as Markdown", app.action_save_transcript
    )
    yield SystemCommand(
        "New session", "Reconnect, keeping the conversation", app.action_new_session
    )


class PersonaCommands(Provider):
    """`Persona: <name>` for each configured persona."""

    def _entries(self) -> list[tuple[str, str, str]]:
        app = cast(CommandTarget, self.app)
        return [
            (f"Persona: {p.name}", p.name, p.description or "Switch to this persona")
            for p in app.settings.personas
        ]

    async def discover(self) -> Hits:
        app = cast(CommandTarget, self.app)
        for title, name, help_text in self._entries():
            # Content, not a str: a persona's name is never parsed as markup.
            yield DiscoveryHit(
                Content(title), partial(app.choose_persona, name), text=title, help=help_text
            )

    async def search(self, query: str) -> Hits:
        app = cast(CommandTarget, self.app)
        matcher = self.matcher(query)
        for title, name, help_text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(app.choose_persona, name),
                    text=title,
                    help=help_text,
                )
