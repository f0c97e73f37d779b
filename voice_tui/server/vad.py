"""Energy voice activity detection on the input audio buffer.

The Realtime API's server VAD settings map onto a frame-level RMS detector:
`threshold` (0..1) picks the level a 10 ms frame must exceed (0.5 is about -40 dBFS),
speech starts once enough of the last 100 ms is voiced, and stops after
`silence_duration_ms` without a voiced frame. Times are milliseconds of audio written
to the buffer since the session started, as in `audio_start_ms` / `audio_end_ms`:
the start includes `prefix_padding_ms`, the end includes the silence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from voice_tui.server.config import SemanticVad, ServerVad
from voice_tui.server.wire import BYTES_PER_MS

FRAME_MS = 10
_FRAME_BYTES = FRAME_MS * BYTES_PER_MS
_ONSET_WINDOW = 10  # frames (100 ms) looked at to decide speech started
_ONSET_VOICED = 5  # voiced frames among them: 50 ms of sound, not a click

# Semantic VAD decides end of turn by meaning; here it scales the silence instead.
SEMANTIC_SILENCE_MS = {"low": 1200, "medium": 700, "auto": 700, "high": 350}


@dataclass(frozen=True, slots=True)
class VadSettings:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500

    @property
    def threshold_dbfs(self) -> float:
        return -65.0 + 50.0 * self.threshold

    @classmethod
    def from_turn_detection(cls, td: ServerVad | SemanticVad) -> VadSettings:
        if isinstance(td, ServerVad):
            return cls(td.threshold, td.prefix_padding_ms, td.silence_duration_ms)
        return cls(0.5, 300, SEMANTIC_SILENCE_MS[td.eagerness])


@dataclass(frozen=True, slots=True)
class VadEvent:
    """ "started"/"stopped" are the Realtime events; "paused"/"resumed" are hints inside
    a turn (the speaker went quiet for `pause_ms`, then spoke again) that let the
    recogniser start its final decode while the silence is still being confirmed."""

    kind: Literal["started", "stopped", "paused", "resumed"]
    audio_ms: int  # audio_start_ms for "started", audio_end_ms for "stopped"


def pause_ms(settings: VadSettings) -> int:
    """Quiet long enough to guess the turn may be over: a third of the silence, at most
    150 ms (shorter gaps are between words and would waste a decode)."""
    return max(FRAME_MS, min(150, settings.silence_duration_ms // 3))


class SpeechTail:
    """Once speech has started, when it pauses, resumes and stops: the same for every
    detector, whatever decides that a frame is voiced."""

    def __init__(self, settings: VadSettings) -> None:
        self.settings = settings
        self.last_voiced_end_ms = 0
        self.paused = False

    def heard(self, voiced_until_ms: int) -> None:
        self.last_voiced_end_ms = voiced_until_ms

    def begin(self) -> None:
        self.paused = False

    def step(self, start_ms: int, end_ms: int, voiced: bool) -> VadEvent | None:
        """One frame of speech under way, from `start_ms` to `end_ms`."""
        if voiced:
            self.last_voiced_end_ms = end_ms
        quiet_ms = end_ms - self.last_voiced_end_ms
        if quiet_ms >= max(self.settings.silence_duration_ms, 1):
            return VadEvent("stopped", end_ms)
        if voiced and self.paused:
            self.paused = False
            return VadEvent("resumed", start_ms)
        if not self.paused and quiet_ms >= pause_ms(self.settings):
            self.paused = True
            return VadEvent("paused", self.last_voiced_end_ms)
        return None


class VoiceActivityDetector(Protocol):
    settings: VadSettings
    in_speech: bool

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Add 24 kHz pcm16; the transitions it completed, in order."""


# Makes a detector from the session's settings, starting at this audio time (ms).
VadFactory = Callable[[VadSettings, int], VoiceActivityDetector]


class EnergyVad:
    """Feed it every appended byte; it returns speech started / stopped transitions."""

    def __init__(self, settings: VadSettings, start_ms: int = 0) -> None:
        self.settings = settings
        self._now_ms = start_ms  # end of the last complete frame
        self._pending = b""
        self._recent: deque[tuple[int, bool]] = deque(maxlen=_ONSET_WINDOW)
        self.in_speech = False
        self._tail = SpeechTail(settings)

    @property
    def now_ms(self) -> int:
        return self._now_ms

    def feed(self, pcm: bytes) -> list[VadEvent]:
        data = self._pending + pcm
        whole = len(data) - len(data) % _FRAME_BYTES
        self._pending = data[whole:]
        if whole == 0:
            return []
        frames = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32).reshape(-1, 240)
        rms = np.sqrt(np.mean(np.square(frames / 32768.0), axis=1))
        dbfs = 20.0 * np.log10(np.maximum(rms, 1e-9))
        voiced = dbfs > self.settings.threshold_dbfs
        events: list[VadEvent] = []
        for is_voiced in voiced.tolist():
            start = self._now_ms
            self._now_ms += FRAME_MS
            event = self._step(start, bool(is_voiced))
            if event is not None:
                events.append(event)
        return events

    def _step(self, frame_start_ms: int, voiced: bool) -> VadEvent | None:
        self._recent.append((frame_start_ms, voiced))
        if voiced:
            self._tail.heard(self._now_ms)
        if not self.in_speech:
            if sum(v for _, v in self._recent) >= _ONSET_VOICED:
                onset = next(t for t, v in self._recent if v)
                self.in_speech = True
                self._tail.begin()
                return VadEvent("started", max(0, onset - self.settings.prefix_padding_ms))
            return None
        event = self._tail.step(frame_start_ms, self._now_ms, voiced)
        if event is not None and event.kind == "stopped":
            self.in_speech = False
            self._recent.clear()
        return event
