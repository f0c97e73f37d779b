"""Deterministic speech for tests: tones stand for phrases.

The recogniser really listens: it finds the dominant frequency of the audio it was sent
and maps it to a phrase, so a transcript only comes out right when the audio arrived
intact. The synthesiser speaks a 300 Hz tone whose length follows the text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np

from voice_tui.server.components import SAMPLE_RATE

CHUNK_BYTES = SAMPLE_RATE * 2 * 40 // 1000  # synthesised audio comes in 40 ms chunks


def tone(freq: float, ms: int, amplitude: float = 0.4) -> bytes:
    n = SAMPLE_RATE * ms // 1000
    t = np.arange(n) / SAMPLE_RATE
    wave = amplitude * np.sin(2 * math.pi * freq * t)
    return (wave * 32767).astype("<i2").tobytes()


class ToneStream:
    def __init__(self, phrases: Mapping[float, str], min_samples: int, min_peak: float) -> None:
        self._phrases = phrases
        self._min_samples = min_samples
        self._min_peak = min_peak
        self._pcm = bytearray()

    def feed(self, pcm: bytes) -> str | None:
        self._pcm += pcm
        return None

    def finish(self) -> str:
        samples = np.frombuffer(bytes(self._pcm), dtype="<i2").astype(np.float64)
        if samples.size < self._min_samples or np.abs(samples).max() < self._min_peak:
            return ""
        spectrum = np.abs(np.fft.rfft(samples))
        peak = float(np.fft.rfftfreq(samples.size, 1 / SAMPLE_RATE)[int(spectrum.argmax())])
        nearest = min(self._phrases, key=lambda f: abs(f - peak))
        return self._phrases[nearest] if abs(nearest - peak) < 30 else ""


class ToneRecognizer:
    """Hears `phrases[f]` in audio whose dominant frequency is within 30 Hz of f; nothing
    in audio shorter than `min_ms` or quieter than `min_peak`."""

    def __init__(
        self, name: str, phrases: Mapping[float, str], *, min_ms: int, min_peak: float
    ) -> None:
        self.name = name
        self._phrases = phrases
        self._min_samples = SAMPLE_RATE * min_ms // 1000
        self._min_peak = min_peak

    def start(self, language: str | None = None, prompt: str | None = None) -> ToneStream:
        return ToneStream(self._phrases, self._min_samples, self._min_peak)


class ToneSynthesizer:
    """A quiet 300 Hz tone, `ms_per_char` per character (40 ms at least)."""

    def __init__(self, name: str, ms_per_char: int) -> None:
        self.name = name
        self.ms_per_char = ms_per_char

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        pcm = tone(300.0, max(self.ms_per_char * len(text), 40), amplitude=0.2)
        for i in range(0, len(pcm), CHUNK_BYTES):
            yield pcm[i : i + CHUNK_BYTES]
