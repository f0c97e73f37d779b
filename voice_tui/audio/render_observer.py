"""What the speaker's callback hands to the device, block by block, for observers.

The public view of playback on the device timeline (one index per device sample since
the stream started), so benchmarks and tools need no private state: when each block
reaches the DAC, which item's samples it carried and where, and where audible audio
ends. Built only when someone observes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ItemRun:
    """Consecutive samples of one item within a block (device rate)."""

    item_id: str
    item_offset: int  # samples of the item's own audio handed to the device before it
    start: int  # timeline index of the run's first sample
    count: int
    filler: bool = False  # periods the player inserted (its jitter margin), not the item's


@dataclass(frozen=True, slots=True)
class RenderedBlock:
    start: int  # timeline index of the block's first sample
    frames: int
    dac_time: float  # when its first sample reaches the DAC (time.perf_counter clock)
    callback_time: float  # when the callback handed it over
    runs: tuple[ItemRun, ...]  # assistant audio in it (a fade-out counts); none: silence
    audible_until: int  # timeline index just past the last non-silent sample so far

    @property
    def silent(self) -> bool:
        return not self.runs


RenderObserver = Callable[[RenderedBlock], None]
