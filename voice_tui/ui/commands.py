"""Command palette provider: every persona can be chosen by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

if TYPE_CHECKING:
    from voice_tui.ui.app import VoiceApp


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
