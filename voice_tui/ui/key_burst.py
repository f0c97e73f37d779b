"""Text the terminal typed out as keys, taken back as one paste.

Without bracketed paste (some terminals, tmux send-keys, a paste over a slow link)
pasted text arrives as one key event per character: 100 kB is 100,000 events, each
dispatched through the app's bindings and the focused widget, and each inserted into
the input line on its own. That froze the app for minutes. Keys the terminal sends
in one go sit in the app's queue together, created within microseconds of each other;
keys a person types are tens of milliseconds apart and come one at a time. So when a
text key is followed in the queue by another created within `BURST_GAP_S`, the run is
taken off the queue and handled as one `Paste`. A long paste is read in pieces, with
pauses between them when the machine is busy: keys that come within `CONTINUE_GAP_S`
of a burst continue it (the input line refuses or takes the paste as a whole).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.message import Message

BURST_GAP_S = 0.010  # far below a person's keystrokes (~30 ms and more apart)
CONTINUE_GAP_S = 0.25  # between two pieces of one paste (a read, a busy machine)


def key_text(event: Message) -> str | None:
    """The text a key event types (a printable character, tab, or a line break), or
    None for any other key or message."""
    if not isinstance(event, events.Key):
        return None
    if event.is_printable:
        return event.character
    if event.key in ("enter", "ctrl+j"):
        return "\n"
    if event.key == "tab":
        return "\t"
    return None


@dataclass(slots=True)
class Burst:
    """What `KeyBurst.take` took off the queue: the text, whether it continues the
    burst before (one paste read in pieces), and a key that ended the run and must
    still be handled as a key (a line break the paste ended with)."""

    text: str
    continues: bool = False
    trailing: events.Key | None = None


class KeyBurst:
    """Recognises runs of keys typed by the terminal (see the module docstring)."""

    def __init__(self, gap_s: float = BURST_GAP_S, continue_gap_s: float = CONTINUE_GAP_S) -> None:
        self._gap_s = gap_s
        self._continue_gap_s = continue_gap_s
        self._last: float | None = None  # when the last key of the latest burst was made

    def take(
        self,
        first: events.Key,
        peek: Callable[[], Message | None],
        pop: Callable[[], object],
    ) -> Burst | None:
        """The burst starting with `first`, taking its other keys off the queue with
        `peek` (the next queued message, or None) and `pop` (remove it); None when
        `first` is a key like any other."""
        text = key_text(first)
        since = first.time - self._last if self._last is not None else -1.0
        # A line break continues a paste only as soon after it as the pieces of one
        # read come: an Enter pressed right after a paste is the user's, to send it.
        gap = self._gap_s * 5 if text == "\n" else self._continue_gap_s
        continuing = 0 <= since <= gap
        if text is None or (text == "\n" and not continuing):
            return None  # a burst starts with text (a line break is a key of its own)
        parts = [text]
        last = first
        pending_break: events.Key | None = None
        while True:
            following = peek()
            more = key_text(following) if following is not None else None
            if (
                more is None
                or not isinstance(following, events.Key)
                or not 0 <= following.time - last.time <= self._gap_s
            ):
                break
            pop()
            if pending_break is not None:
                parts.append("\n")  # the break was inside the paste, not its end
                pending_break = None
            if more == "\n":
                pending_break = following
            else:
                parts.append(more)
            last = following
        if len(parts) == 1 and pending_break is None and not continuing:
            return None
        self._last = last.time
        return Burst("".join(parts), continuing, pending_break)
