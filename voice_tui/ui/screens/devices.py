"""The device menu: pick the microphone and the speaker, applied live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class DeviceChoice:
    """One selectable device; `value` is what is saved and passed to the worker."""

    label: str
    value: str | int | None  # None: the system default


@dataclass(frozen=True)
class ChosenDevices:
    input_device: str | int | None
    output_device: str | int | None


class DeviceScreen(ModalScreen[ChosenDevices | None]):
    DEFAULT_CSS = """
    DeviceScreen { align: center middle; }
    DeviceScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
                              background: $surface; border: thick $primary; padding: 0 1; }
    DeviceScreen .device-heading { text-style: bold; padding: 1 0 0 0; }
    DeviceScreen OptionList { height: auto; max-height: 10; }
    DeviceScreen Horizontal { height: auto; align-horizontal: right; padding: 1 0 0 0; }
    DeviceScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close", id="devices_close")
    ]

    def __init__(
        self,
        inputs: list[DeviceChoice],
        outputs: list[DeviceChoice],
        current_input: str | int | None,
        current_output: str | int | None,
    ) -> None:
        super().__init__()
        self._inputs = inputs
        self._outputs = outputs
        self._current_input = current_input
        self._current_output = current_output

    @staticmethod
    def _options(choices: list[DeviceChoice], current: str | int | None) -> list[Option]:
        return [
            Option(Text(("● " if c.value == current else "  ") + c.label), id=str(i))
            for i, c in enumerate(choices)
        ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Microphone", classes="device-heading")
            yield OptionList(*self._options(self._inputs, self._current_input), id="inputs")
            yield Static("Speaker", classes="device-heading")
            yield OptionList(*self._options(self._outputs, self._current_output), id="outputs")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Apply", id="apply", variant="primary")

    def on_mount(self) -> None:
        for list_id, choices, current in (
            ("#inputs", self._inputs, self._current_input),
            ("#outputs", self._outputs, self._current_output),
        ):
            values = [c.value for c in choices]
            if current in values:
                self.query_one(list_id, OptionList).highlighted = values.index(current)
            elif choices:
                self.query_one(list_id, OptionList).highlighted = 0
        self.query_one("#inputs", OptionList).focus()

    def _highlighted(self, list_id: str, choices: list[DeviceChoice]) -> str | int | None:
        index = self.query_one(list_id, OptionList).highlighted
        return choices[index].value if index is not None and choices else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        # Enter in the microphone list moves on to the speaker list; in it, applies.
        if event.option_list.id == "inputs":
            self.query_one("#outputs", OptionList).focus()
        else:
            self._apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)

    def _apply(self) -> None:
        self.dismiss(
            ChosenDevices(
                input_device=self._highlighted("#inputs", self._inputs),
                output_device=self._highlighted("#outputs", self._outputs),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
