"""The input line for typed messages.

Its placeholder tells apart "typing goes here" from "keys are commands": while the line
is not focused, single-letter keys trigger actions, so it must not look ready to type.

A typed message has a length limit (`MAX_TYPED_CHARS`): Textual's Input does work in
proportion to its whole value on every key, so an unlimited line turns a long paste into
a frozen app. A paste that would not fit is refused whole (the clipboard still has it)
and the app says why and what to do instead (`/file PATH`); so is a key typed at the
limit, said once until the line changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import Input

from voice_tui.ui.typed import MAX_TYPED_CHARS, one_line

FOCUSED_HINT = "Type a message, Enter to send (/file PATH sends a file; Esc: back to keys)"


class MessageInput(Input):
    @dataclass
    class TooLong(Message):
        """Text was refused: the line would be longer than `limit` characters."""

        attempted: int | None  # the length the line would have had (None: unknown)
        limit: int
        pasted: bool  # a paste (refused whole) rather than a key at the limit

    def __init__(
        self,
        *,
        key_display: str = "Enter",
        max_length: int = MAX_TYPED_CHARS,
        id: str | None = None,
    ) -> None:
        self.blurred_hint = f"Press {key_display} to type a message"
        super().__init__(placeholder=self.blurred_hint, max_length=max_length, id=id)
        self._refusal_said = False  # one notice per run of refused keys
        # A paste the terminal typed out comes in pieces: where it began, to put the line
        # back if a later piece does not fit, and whether it was refused already.
        self._paste_start: tuple[str, int] | None = None
        self._paste_refused = False

    def on_focus(self) -> None:
        self.placeholder = FOCUSED_HINT

    def on_blur(self) -> None:
        self.placeholder = self.blurred_hint

    def _watch_value(self, value: str) -> None:
        super()._watch_value(value)
        self._refusal_said = False

    def restricted(self) -> None:
        """A key refused at the limit: say so once (Textual would ring the bell for
        every key, thousands of times for a paste the terminal typed out)."""
        if not self._refusal_said:
            self._refusal_said = True
            self.post_message(self.TooLong(len(self.value) + 1, self.max_length or 0, pasted=False))

    def _on_paste(self, event: events.Paste) -> None:
        # Instead of Textual's: keep every line (joined), and refuse what cannot fit.
        event.stop()
        event.prevent_default()
        self.paste(event.text)

    def paste(self, text: str, *, continues: bool = False) -> bool:
        """Insert pasted text at the cursor (over the selection); False when refused.
        `continues`: a further piece of the paste before (see key_burst.py): when the
        whole does not fit, the line goes back to what it was before the paste."""
        if not continues:
            self._paste_start = (self.value, self.cursor_position)
            self._paste_refused = False
        elif self._paste_refused:
            return False  # said already; the rest of that paste goes the same way
        text = one_line(text)
        if not text:
            return False
        start, end = sorted(self.selection)
        attempted = len(self.value) - (end - start) + len(text)
        if self.max_length and attempted > self.max_length:
            self._paste_refused = True
            if continues and self._paste_start is not None:
                self.value, self.cursor_position = self._paste_start
            self.post_message(
                self.TooLong(None if continues else attempted, self.max_length, pasted=True)
            )
            return False
        self.replace(text, start, end)
        return True
