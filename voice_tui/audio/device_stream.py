"""What the capture and output streams share: their lifecycle, the liveness record the
worker checks, and the mapping of PortAudio's stream clock onto `time.perf_counter`."""

from __future__ import annotations

import contextlib
import time
from typing import Any


def stream_to_perf(stream_time: float, current_time: float, now: float) -> float:
    """A stream-clock instant on the perf_counter clock (both tick alike: map via "now");
    `now` itself when the host API gives no timestamp (0)."""
    return stream_time - current_time + now if stream_time > 0 else now


class DeviceStream:
    """A PortAudio stream owned by the audio worker. Subclasses set `self.stream` and
    call `_beat(now)` from their callback."""

    stream: Any

    def __init__(self) -> None:
        self.last_callback = time.perf_counter()  # for the worker's liveness check
        self.callbacks = 0

    def _beat(self, now: float) -> None:
        self.last_callback = now
        self.callbacks += 1

    def start(self) -> None:
        self.last_callback = time.perf_counter()
        self.stream.start()

    @property
    def active(self) -> bool:
        return bool(self.stream.active)

    def close(self) -> None:
        """Stop and release the stream. A stream whose device or server is gone may fail
        to stop: there is nothing left to release then."""
        with contextlib.suppress(Exception):
            self.stream.abort(ignore_errors=True)
        with contextlib.suppress(Exception):
            self.stream.close(ignore_errors=True)
