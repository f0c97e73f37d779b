"""Measurements on pcm16 audio shared by the offline tests."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voice_tui.server.components import SAMPLE_RATE


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, np.int16).astype(np.float64)


def duration_s(pcm: bytes) -> float:
    return len(pcm) / 2 / SAMPLE_RATE


def rms_dbfs(pcm: bytes) -> float:
    x = samples(pcm)
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(x**2)))
    return 20 * float(np.log10(max(rms, 1e-9) / 32768))


def median_pitch_hz(pcm: bytes) -> float:
    """Median fundamental frequency of the voiced 60 ms frames.

    Autocorrelation normalised by the overlap at each lag: the raw sum favours short
    lags, which turns a deep voice's pitch into an octave or two above it."""
    x = samples(pcm)
    frame = SAMPLE_RATE * 60 // 1000
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 70  # lags for 400 Hz .. 70 Hz
    overlap = frame - np.arange(frame)
    threshold = 0.1 * float(np.max(np.abs(x))) if x.size else 0.0
    pitches = []
    for start in range(0, x.size - frame, frame // 2):
        f = x[start : start + frame]
        if np.sqrt(np.mean(f**2)) < threshold:
            continue
        f = f - f.mean()
        ac = np.correlate(f, f, mode="full")[frame - 1 :] / overlap
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] > 0.4:  # clearly periodic: voiced
            pitches.append(SAMPLE_RATE / lag)
    return float(np.median(pitches)) if pitches else 0.0


def spectral_centroid_hz(pcm: bytes) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return float((spectrum * freqs).sum() / max(float(spectrum.sum()), 1e-9))


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
