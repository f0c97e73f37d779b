"""The older part of the transcript as one widget that draws only the lines on screen.

Textual lays out and composites every widget in a container whenever anything in it
changes size, so a transcript of thousands of turn widgets costs more per streamed word
the longer it gets. Older rows therefore live here: a single Line API widget whose
height is the sum of its rows' heights (measured once per width) and whose
`render_line` finds the row under a line by bisection. The number of widgets, and the
cost of a delta, no longer depends on how long the conversation has been. Only the
rows drawn lately keep their drawn lines (a bounded cache): thousands of rows of
Segments would only make every garbage collection slower. A new width (the terminal was
resized) re-wraps the newest rows at once and the others a few at a time between frames,
with estimated heights meanwhile, so a long transcript does not freeze the app.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from itertools import accumulate
from typing import ClassVar

from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from voice_tui.ui.widgets.rows import ROW_COMPONENTS, Row, row_css

ROW_GAP = 1  # a blank line after each row, as the rows near the bottom have (margin)
DRAWN_ROWS = 256  # rows that keep their drawn lines: a few screens' worth
SYNC_ROWS = 64  # after a width change, rows re-wrapped at once (the newest: on screen)
ROWS_PER_STEP = 64  # then this many between two frames


class TranscriptArchive(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = ROW_COMPONENTS
    DEFAULT_CSS = "TranscriptArchive { height: auto; }" + row_css("TranscriptArchive")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self._index: dict[int, int] = {}  # id(row) -> position
        self._heights: list[int] = []  # lines per row, gap included, at self._width
        self._tops: list[int] = []  # first line of each row
        self._width = 0
        self._style_token = object()  # renewed when the theme or styles change
        self._drawn: OrderedDict[int, Row] = OrderedDict()  # recently drawn, oldest first
        self._estimated: set[int] = set()  # rows whose height at this width is a guess
        self._queue: list[int] = []  # estimated rows still to wrap, the newest last
        self._wrap_pending = False  # a `_wrap_some` is scheduled (one chain at a time)

    # -- rows ----------------------------------------------------------------------
    @property
    def rewrapping(self) -> bool:
        """Rows still shown at a guessed height after a width change."""
        return bool(self._estimated)

    def __contains__(self, row: object) -> bool:
        return id(row) in self._index

    def extend(self, rows: Iterable[Row]) -> None:
        """Append rows (they are measured now if the width is known)."""
        added = list(rows)
        if not added:
            return
        for row in added:
            row.attach(self, self.component_style)
            self._index[id(row)] = len(self.rows)
            self.rows.append(row)
            height = self._measure(row) if self._width else 0
            self._tops.append(self._tops[-1] + self._heights[-1] if self._heights else 0)
            self._heights.append(height)
        self.refresh(layout=True)

    def insert_after(self, previous: Row, row: Row) -> None:
        """A row that belongs among the archived ones (a late turn): rare, so O(n)."""
        self._wrap_all_now()  # positions are about to shift under the queue
        at = self._index[id(previous)] + 1
        row.attach(self, self.component_style)
        self.rows.insert(at, row)
        self._heights.insert(at, self._measure(row) if self._width else 0)
        self._index = {id(r): i for i, r in enumerate(self.rows)}
        self._retop()
        self.refresh(layout=True)

    def row_changed(self, row: Row) -> None:
        """A row changed: measure it again; only its own height can have moved."""
        at = self._index.get(id(row))
        if at is None:
            return
        if self._width:
            self._estimated.discard(at)
            height = self._measure(row)
            if height != self._heights[at]:
                moved = height - self._heights[at]
                self._heights[at] = height
                for later in range(at + 1, len(self._tops)):  # usually a row near the end
                    self._tops[later] += moved
                self.refresh(layout=True)
                return
        self.refresh()

    # -- Textual -------------------------------------------------------------------
    def component_style(self, name: str) -> Style:
        return self.get_component_rich_style(name)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_token = object()  # rows draw themselves again when next shown

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._set_width(width)
        return self._tops[-1] + self._heights[-1] if self.rows else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._set_width(width)
        at = bisect_right(self._tops, y) - 1
        if at < 0:
            return Strip.blank(width)
        row = self.rows[at]
        self._keep_drawn(row)
        if at in self._estimated:  # shown before its turn came: wrap it now
            self._estimated.discard(at)
            height = self._measure(row)
            if height != self._heights[at]:
                self._heights[at] = height
                self.call_after_refresh(self._relayout)
        lines = row.lines(width, self.app.console, self._style_token)
        offset = y - self._tops[at]
        return lines[offset] if offset < len(lines) else Strip.blank(width)

    # -- measuring -----------------------------------------------------------------
    def _measure(self, row: Row) -> int:
        height = len(row.lines(self._width, self.app.console, self._style_token)) + ROW_GAP
        if id(row) not in self._drawn:
            row.forget_lines()
        return height

    def _keep_drawn(self, row: Row) -> None:
        key = id(row)
        if key in self._drawn:
            self._drawn.move_to_end(key)
            return
        self._drawn[key] = row
        if len(self._drawn) > DRAWN_ROWS:
            _, oldest = self._drawn.popitem(last=False)
            oldest.forget_lines()

    def _set_width(self, width: int) -> None:
        """A new width re-wraps every row: the newest now, the rest between frames."""
        if width == self._width or width <= 0:
            return
        old, self._width = self._width, width
        count = len(self.rows)
        if not old or count <= SYNC_ROWS:
            self._heights = [self._measure(row) for row in self.rows]
            self._estimated.clear()
            self._queue = []
            self._retop()
            return
        ratio = max(old - 3, 1) / max(width - 3, 1)  # wider: fewer lines
        later = count - SYNC_ROWS
        self._heights = [
            max(round((h - ROW_GAP) * ratio), 1) + ROW_GAP for h in self._heights[:later]
        ] + [self._measure(row) for row in self.rows[later:]]
        self._estimated = set(range(later))
        self._queue = list(range(later))
        self._retop()
        self._schedule_wrap()

    def _schedule_wrap(self) -> None:
        # Two width changes in a row (the side panel follows the terminal's new width)
        # must not start two chains of steps.
        if not self._wrap_pending:
            self._wrap_pending = True
            self.call_after_refresh(self._wrap_step)

    def _wrap_step(self) -> None:
        self._wrap_pending = False
        self._wrap_some()

    def _wrap_some(self) -> None:
        """Wrap the next few estimated rows (newest first) and lay out again."""
        changed = False
        for _ in range(ROWS_PER_STEP):
            if not self._queue:
                break
            at = self._queue.pop()
            if at in self._estimated:
                self._estimated.discard(at)
                height = self._measure(self.rows[at])
                changed = changed or height != self._heights[at]
                self._heights[at] = height
        if changed:
            self._relayout()
        if self._queue:
            self._schedule_wrap()

    def _wrap_all_now(self) -> None:
        if self._queue:
            for at in self._queue:
                if at in self._estimated:
                    self._heights[at] = self._measure(self.rows[at])
            self._estimated.clear()
            self._queue = []
            self._relayout()

    def _relayout(self) -> None:
        self._retop()
        self.refresh(layout=True)

    def _retop(self) -> None:
        self._tops = [0, *accumulate(self._heights)][:-1] if self._heights else []
