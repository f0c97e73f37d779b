"""The input line for typed messages.

Its placeholder tells apart "typing goes here" from "keys are commands": while the line
is not focused, single-letter keys trigger actions, so it must not look ready to type.
"""

from __future__ import annotations

from textual.widgets import Input

FOCUSED_HINT = "Type a message, Enter to send (Esc: back to keys)"


class MessageInput(Input):
    def __init__(self, *, key_display: str = "Enter", id: str | None = None) -> None:
        self.blurred_hint = f"Press {key_display} to type a message"
        super().__init__(placeholder=self.blurred_hint, id=id)

    def on_focus(self) -> None:
        self.placeholder = FOCUSED_HINT

    def on_blur(self) -> None:
        self.placeholder = self.blurred_hint
