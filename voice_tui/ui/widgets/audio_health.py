"""Audio glitches, counted: what ALSA would otherwise print over the screen.

The audio worker counts them as they happen (PortAudio's underflow and overflow
flags, which are the events ALSA prints `underrun occurred` for, and gaps in a reply
that came too late from the network); this line shows the counts once there are any.
"""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual.widgets import Static


class GlitchCounts(Protocol):
    """The audio worker's counters this line shows (`AudioWorker.stats`)."""

    @property
    def device_output_underflows(self) -> int: ...
    @property
    def underruns(self) -> int: ...
    @property
    def device_input_overflows(self) -> int: ...
    @property
    def mic_samples_dropped(self) -> int: ...


def _times(count: int, what: str) -> str:
    return f"{count:,} {what}{'' if count == 1 else 's'}"


def glitch_text(stats: GlitchCounts) -> str:
    """ "" when there is nothing to report."""
    parts = []
    if stats.device_output_underflows:
        parts.append(_times(stats.device_output_underflows, "speaker underrun"))
    if stats.underruns:
        parts.append(_times(stats.underruns, "gap") + " in replies")
    if stats.device_input_overflows:
        parts.append(_times(stats.device_input_overflows, "mic overflow"))
    if stats.mic_samples_dropped:
        parts.append(f"{stats.mic_samples_dropped:,} mic samples dropped")
    return ", ".join(parts)


class AudioHealth(Static):
    DEFAULT_CSS = """
    AudioHealth { color: $warning; height: auto; margin: 0 0 1 0; display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown = ""

    def show(self, stats: GlitchCounts) -> None:
        text = glitch_text(stats)
        if text == self._shown:
            return
        self._shown = text
        self.display = bool(text)
        self.update(Text(f"⚠ Audio: {text}") if text else "")
