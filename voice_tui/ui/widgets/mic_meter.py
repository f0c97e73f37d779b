"""The microphone level meter: live level, peak hold, clipping, muted.

Levels arrive ~30 times a second (throttled by the audio worker); peak hold and
the clip latch count updates rather than seconds, so the widget has no timers.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

FLOOR_DBFS = -60.0
PEAK_HOLD_UPDATES = 45  # ~1.5 s at 30 Hz
PEAK_DECAY_DB = 1.5  # per update once the hold has expired
CLIP_LATCH_UPDATES = 30  # ~1 s


def _fraction(dbfs: float) -> float:
    return min(max((dbfs - FLOOR_DBFS) / -FLOOR_DBFS, 0.0), 1.0)


class MicMeter(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "meter--low",
        "meter--high",
        "meter--clip",
        "meter--empty",
    }
    DEFAULT_CSS = """
    MicMeter { height: 1; width: 1fr; }
    MicMeter > .meter--low { color: $vt-meter-low; }
    MicMeter > .meter--high { color: $vt-meter-high; }
    MicMeter > .meter--clip { color: $vt-meter-clip; text-style: bold; }
    MicMeter > .meter--empty { color: $foreground 25%; }
    """

    level_dbfs: reactive[float] = reactive(FLOOR_DBFS)
    peak_dbfs: reactive[float] = reactive(FLOOR_DBFS)
    clipping: reactive[bool] = reactive(False)
    muted: reactive[bool] = reactive(False)
    available: reactive[bool] = reactive(True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._peak_age = 0
        self._clip_age = CLIP_LATCH_UPDATES

    def show_level(self, rms_dbfs: float, peak_dbfs: float, clipping: bool) -> None:
        """Take one level reading: move the bar, hold or decay the peak, latch clips."""
        if peak_dbfs >= self.peak_dbfs:
            self.peak_dbfs = peak_dbfs
            self._peak_age = 0
        else:
            self._peak_age += 1
            if self._peak_age > PEAK_HOLD_UPDATES:
                self.peak_dbfs = max(self.peak_dbfs - PEAK_DECAY_DB, peak_dbfs, FLOOR_DBFS)
        self._clip_age = 0 if clipping else self._clip_age + 1
        self.clipping = self._clip_age < CLIP_LATCH_UPDATES
        self.level_dbfs = rms_dbfs

    def render(self) -> Text:
        width = max(self.size.width, 20)
        if not self.available:
            return Text("MIC  no microphone (text mode)", style=self._style("meter--empty"))
        if self.muted:
            return Text("MIC  ⊘ muted", style=self._style("meter--clip"))
        tail = " CLIP" if self.clipping else f" {self.level_dbfs:4.0f} dB"
        bar_width = width - 5 - len(tail)
        filled = round(_fraction(self.level_dbfs) * bar_width)
        peak_at = min(round(_fraction(self.peak_dbfs) * bar_width), bar_width - 1)
        high_from = round(bar_width * 0.8)
        text = Text("MIC ")
        for i in range(bar_width):
            if i < filled:
                zone = (
                    "meter--clip"
                    if self.clipping
                    else ("meter--high" if i >= high_from else "meter--low")
                )
                text.append("█", style=self._style(zone))
            elif i == peak_at and self.peak_dbfs > FLOOR_DBFS:
                text.append("▏", style=self._style("meter--high"))
            else:
                text.append("·", style=self._style("meter--empty"))
        text.append(tail, style=self._style("meter--clip" if self.clipping else "meter--empty"))
        return text

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component)
