"""What a real AudioWorker reported through its callbacks, collected from its thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from voice_tui.audio.level import MicLevel
from voice_tui.audio.status import AudioStatus


@dataclass
class Collected:
    """What the worker reported, appended from its thread."""

    mic: list[tuple[bytes, float]] = field(default_factory=list)
    levels: list[MicLevel] = field(default_factory=list)
    statuses: list[AudioStatus] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mic_signal(self, since: int = 0) -> np.ndarray:
        with self.lock:
            chunks = [pcm for pcm, _ in self.mic[since:]]
        return np.frombuffer(b"".join(chunks), np.int16).astype(np.float64)
