"""The microphone level meter: live level, peak hold, clipping, muted.

Levels arrive ~30 times a second (throttled by the audio worker), but the meter is
drawn in cells: it repaints only when what it shows would change, and
`would_change` lets the sender drop a reading before it costs the loop anything
(a quiet room costs nothing while idle). Peak hold and the clip latch count readings
rather than seconds, so the widget has no timers; while they are running every
reading is wanted, so they always run out.
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
LABEL = "MIC "
MIN_WIDTH = 20
TAIL_WIDTH = len("  -60 dB")
SPARE = 1  # the last cell stays blank


def _fraction(dbfs: float) -> float:
    return min(max((dbfs - FLOOR_DBFS) / -FLOOR_DBFS, 0.0), 1.0)


def _cell(dbfs: float, bar_width: int) -> int:
    return round(_fraction(dbfs) * bar_width)


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

    muted: reactive[bool] = reactive(False)
    available: reactive[bool] = reactive(True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.level_dbfs = FLOOR_DBFS
        self.peak_dbfs = FLOOR_DBFS
        self.clipping = False
        self._peak_age = 0
        self._clip_age = CLIP_LATCH_UPDATES
        self._last_peak_reading = FLOOR_DBFS
        # What the last reading looked like in cells; read by the sender's thread.
        self._bar_width = MIN_WIDTH - len(LABEL) - SPARE - TAIL_WIDTH
        self._last_cells = self._cells(FLOOR_DBFS, FLOOR_DBFS, False)
        self._shown = self._view()

    # -- any thread ------------------------------------------------------------------
    def would_change(self, rms_dbfs: float, peak_dbfs: float, clipping: bool) -> bool:
        """Whether a reading is worth posting: it lands in other cells than the last one,
        or the peak hold / clip latch is still counting readings. Safe from any thread
        (it only reads); a stale answer costs at most one reading."""
        if self.clipping or self.peak_dbfs > self._last_peak_reading:
            return True
        return self._cells(rms_dbfs, peak_dbfs, clipping) != self._last_cells

    def _cells(self, rms_dbfs: float, peak_dbfs: float, clipping: bool) -> tuple[int, int, bool]:
        width = self._bar_width
        return (_cell(rms_dbfs, width), _cell(peak_dbfs, width), clipping)

    # -- loop thread -----------------------------------------------------------------
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
        self._last_peak_reading = peak_dbfs
        self._last_cells = self._cells(rms_dbfs, peak_dbfs, clipping)
        view = self._view()
        if view != self._shown:  # a reading within the same cells repaints nothing
            self._shown = view
            self.refresh()

    def _view(self) -> tuple[int, int, int, bool]:
        """What the bar shows: its width, filled cells, peak cell, clipping."""
        width = self._bar_width
        peak_at = _cell(self.peak_dbfs, width) if self.peak_dbfs > FLOOR_DBFS else -1
        return (width, _cell(self.level_dbfs, width), peak_at, self.clipping)

    def on_resize(self) -> None:
        self._bar_width = max(self.size.width, MIN_WIDTH) - len(LABEL) - SPARE - TAIL_WIDTH
        self._last_cells = self._cells(self.level_dbfs, self._last_peak_reading, self.clipping)
        self._shown = self._view()
        self.refresh()  # it may have been drawn at the width it had before

    def render(self) -> Text:
        if not self.available:
            return Text("MIC  no microphone (text mode)", style=self._style("meter--empty"))
        if self.muted:
            return Text("MIC  ⊘ muted", style=self._style("meter--clip"))
        bar_width, filled, peak_cell, clipping = self._view()
        # The readout has the bar's resolution, so the two always agree and change together.
        shown_db = round(FLOOR_DBFS * (1 - filled / bar_width))
        tail = f"{' CLIP':<{TAIL_WIDTH}}" if clipping else f" {shown_db:4d} dB"
        peak_at = min(peak_cell, bar_width - 1)
        high_from = round(bar_width * 0.8)
        text = Text(LABEL)
        for i in range(bar_width):
            if i < filled:
                zone = (
                    "meter--clip"
                    if clipping
                    else ("meter--high" if i >= high_from else "meter--low")
                )
                text.append("█", style=self._style(zone))
            elif i == peak_at:
                text.append("▏", style=self._style("meter--high"))
            else:
                text.append("·", style=self._style("meter--empty"))
        text.append(tail, style=self._style("meter--clip" if clipping else "meter--empty"))
        return text

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component)
