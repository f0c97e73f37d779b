"""The command palette: every action, each turn mode and each persona by name."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from voice_tui.core.events import TurnMode
from voice_tui.ui.widgets.status_bar import TURN_MODE_LABELS

if TYPE_CHECKING:
    from voice_tui.ui.app import VoiceApp

TURN_MODE_CYCLE = (TurnMode.PUSH_TO_TALK, TurnMode.SERVER_VAD, TurnMode.SEMANTIC_VAD)


def app_commands(app: VoiceApp) -> Iterator[SystemCommand]:
    """Every key's action in the command palette, and each turn mode by name."""
    yield SystemCommand("Talk (push-to-talk)", "Start or end your turn", app.action_push_to_talk)
    for mode in TURN_MODE_CYCLE:
        yield SystemCommand(
            f"Turn mode: {TURN_MODE_LABELS[mode]}",
            "How your turn ends, applied live",
            partial(app.set_turn_mode, mode),
        )
    yield SystemCommand("Mute microphone", "Toggle the microphone", app.action_toggle_mute)
    yield SystemCommand("Interrupt", "Stop the assistant", app.action_interrupt)
    yield SystemCommand("Type a message", "Focus the input line", app.action_type_message)
    yield SystemCommand(
        "Cancel the running tool", "Stop the tool call under way", app.action_cancel_tools
    )
    yield SystemCommand(
        "Attach an image…", "Show the assistant a PNG, JPEG, WebP or GIF", app.action_attach_image
    )
    yield SystemCommand("MCP servers", "What each MCP server is doing", app.action_mcp_status)
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
        app: VoiceApp = self.app  # type: ignore[assignment]
        return [
            (f"Persona: {p.name}", p.name, p.description or "Switch to this persona")
            for p in app.settings.personas
        ]

    async def discover(self) -> Hits:
        app: VoiceApp = self.app  # type: ignore[assignment]
        for title, name, help_text in self._entries():
            # Content, not a str: a persona's name is never parsed as markup.
            yield DiscoveryHit(
                Content(title), partial(app.choose_persona, name), text=title, help=help_text
            )

    async def search(self, query: str) -> Hits:
        app: VoiceApp = self.app  # type: ignore[assignment]
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
