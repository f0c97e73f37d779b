"""Streaming sample-rate conversion for devices that refuse 24 kHz (soxr, not by hand).

One `StreamResampler` per direction and stream: soxr keeps its filter state between
blocks, so block edges produce no clicks, and the output length tracks the input
length exactly over time (no drift). Quality "LQ" is soxr's 16-bit recipe (all an
int16 stream can carry) and, unlike "HQ", hands out audio every block instead of in
bursts of two blocks, which would add up to a block of latency.
"""

from __future__ import annotations

import numpy as np
import soxr

from voice_tui.audio.ring import Samples


class StreamResampler:
    """Mono int16 in, mono int16 out; a pass-through when the rates are equal."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: soxr.ResampleStream | None = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="LQ")
        )

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def process(self, samples: Samples, last: bool = False) -> Samples:
        if self._stream is None:
            return samples
        out = self._stream.resample_chunk(np.ascontiguousarray(samples), last=last)
        return np.asarray(out, dtype=np.int16).reshape(-1)

    def flush(self) -> Samples:
        """The samples still inside the filter (call once, at the end of a stream)."""
        return self.process(np.zeros(0, dtype=np.int16), last=True)
