"""The persona menu: the configured personas, the current one marked."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from voice_tui.config.schema import Persona


def persona_prompt(persona: Persona, current: bool) -> Text:
    text = Text("● " if current else "  ", style="bold")
    text.append(persona.name, style="bold")
    details = [d for d in (persona.voice and f"voice {persona.voice}",) if d]
    if persona.tools:
        count = len(persona.tools)
        details.append(f"{count} tool{'' if count == 1 else 's'}")
    if details:
        text.append(f"  ({', '.join(details)})", style="dim")
    if persona.description:
        text.append(f"\n  {persona.description}", style="italic")
    return text


class PersonaScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    PersonaScreen { align: center middle; }
    PersonaScreen > Vertical { width: 70; height: auto; max-height: 80%;
                               background: $surface; border: thick $primary; padding: 0 1; }
    PersonaScreen #persona-title { text-style: bold; padding: 0 0 1 0; }
    PersonaScreen OptionList { height: auto; max-height: 20; border: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close", id="persona_close")
    ]

    def __init__(self, personas: list[Persona], current: str) -> None:
        super().__init__()
        self._personas = personas
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Choose a persona  (enter: apply, esc: close)", id="persona-title")
            yield OptionList(
                *(
                    Option(persona_prompt(p, p.name == self._current), id=p.name)
                    for p in self._personas
                ),
                id="persona-list",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = [p.name for p in self._personas]
        if self._current in names:
            options.highlighted = names.index(self._current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
