"""The transcript's layout: Textual's stream layout, measuring only the children whose
own layout changed.

Textual's `layout: stream` reuses the placements above the first child that asked for a
layout, but learns which child that was from the screen's record of layout requests,
which (Textual 8) loses a request that comes from deeper down, e.g. a Markdown block
inside the streaming turn. Then every turn is measured again on every streamed word.
Here each child's height is kept with the child's own layout counter (which Textual
bumps for the child and its ancestors whenever something inside asks for a layout), so
a word re-measures the streaming turn and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.geometry import NULL_OFFSET, Region, Size
from textual.layout import ArrangeResult, WidgetPlacement
from textual.layouts.stream import StreamLayout

if TYPE_CHECKING:
    from textual.widget import Widget


class TranscriptLayout(StreamLayout):
    def __init__(self) -> None:
        super().__init__()
        self._width = 0
        self._heights: dict[Widget, tuple[int, int]] = {}  # child -> (layout counter, height)

    def arrange(
        self, parent: Widget, children: list[Widget], size: Size, greedy: bool = True
    ) -> ArrangeResult:
        parent.pre_layout(self)
        if not children:
            return []
        if size.width != self._width:
            self._width = size.width
            self._heights.clear()
        viewport = parent.app.viewport_size
        known = self._heights
        heights: dict[Widget, tuple[int, int]] = {}
        placements: list[WidgetPlacement] = []
        width = size.width
        y = 0
        previous_margin = children[0].styles.margin.top
        for widget in children:
            styles = widget.styles._base_styles
            margin = styles.margin
            top, right, bottom, left = margin
            y += max(top, previous_margin)
            previous_margin = bottom
            updates = widget._layout_updates
            cached = known.get(widget)
            if cached is not None and cached[0] == updates:
                height = cached[1]
            else:
                height = self._measure(widget, size, viewport, width)
            heights[widget] = (updates, height)
            region = Region(left, y, width - (left + right), height)
            placements.append(
                WidgetPlacement(region, NULL_OFFSET, margin, widget, 0, False, False, False)
            )
            y += height
        self._heights = heights  # children that left are forgotten
        return placements

    @staticmethod
    def _measure(widget: Widget, size: Size, viewport: Size, width: int) -> int:
        """A child's height, as the stream layout computes it (auto, cell extrema)."""
        styles = widget.styles._base_styles
        gutter_width, gutter_height = styles.gutter.totals
        height = widget.get_content_height(size, viewport, width - gutter_width) + gutter_height
        if (max_height := styles.max_height) is not None and max_height.is_cells:
            height = min(height, int(max_height.value))
        if (min_height := styles.min_height) is not None and min_height.is_cells:
            height = max(height, int(min_height.value))
        return height
