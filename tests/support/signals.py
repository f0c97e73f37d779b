"""Test signals and how to compare them: speech from espeak-ng, alignment by
cross-correlation, and recordings of the virtual speaker."""

from __future__ import annotations

import os
import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from tests.support.virtual_audio import VirtualAudio

RATE = 24_000
Signal = npt.NDArray[np.float64]


def speech_wav(path: Path, text: str = "The quick brown fox jumps over the lazy dog.") -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=30)
    return path


def read_wav(path: Path, rate: int = RATE) -> Signal:
    """Mono samples of a 16-bit WAV, resampled to `rate`."""
    with wave.open(str(path), "rb") as w:
        raw = w.readframes(w.getnframes())
        source_rate, channels = w.getframerate(), w.getnchannels()
    x = np.frombuffer(raw, np.int16).reshape(-1, channels)[:, 0].astype(np.float64)
    return np.asarray(soxr.resample(x, source_rate, rate), dtype=np.float64)


def tone(seconds: float, freq: float = 440.0, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def align(reference: Signal, recorded: Signal) -> tuple[float, int]:
    """(correlation coefficient, offset) of `reference` where it best matches inside
    `recorded` (found by FFT cross-correlation)."""
    if len(recorded) < len(reference):
        recorded = np.concatenate([recorded, np.zeros(len(reference) - len(recorded))])
    n = 1 << int(np.ceil(np.log2(len(recorded) + len(reference))))
    cc = np.fft.irfft(np.fft.rfft(recorded, n) * np.conj(np.fft.rfft(reference, n)), n)
    offset = int(np.argmax(cc[: len(recorded) - len(reference) + 1]))
    segment = recorded[offset : offset + len(reference)]
    return float(np.corrcoef(reference, segment)[0, 1]), offset


def active_spans(x: Signal, threshold: float, window: int = 24) -> list[tuple[int, int]]:
    """[start, end) sample spans where the RMS over `window`-sample frames exceeds
    `threshold` (gaps of less than 3 frames are bridged)."""
    frames = len(x) // window
    rms = np.sqrt(np.mean(x[: frames * window].reshape(frames, window) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold)
    spans: list[tuple[int, int]] = []
    for f in loud.tolist():
        if spans and f * window - spans[-1][1] <= 3 * window:
            spans[-1] = (spans[-1][0], (f + 1) * window)
        else:
            spans.append((f * window, (f + 1) * window))
    return spans


def play_into_mic(audio: VirtualAudio, wav: Path) -> None:
    """Play a file into the virtual microphone (returns when it has been played)."""
    audio.run("paplay", "--device=mic", str(wav))


@contextmanager
def record_speaker(audio: VirtualAudio, path: Path, rate: int = RATE) -> Iterator[Path]:
    """Record what reaches the virtual speaker, as raw mono s16le at `rate`."""
    proc = subprocess.Popen(
        [
            "parecord",
            "--device=speaker.monitor",
            f"--rate={rate}",
            "--channels=1",
            "--format=s16le",
            "--raw",
            "--latency-msec=10",
            str(path),
        ],
        env={**os.environ, **audio.env},
    )
    try:
        deadline = time.monotonic() + 10
        while not (path.exists() and path.stat().st_size > 0):  # recording has begun
            assert proc.poll() is None, "parecord exited"
            assert time.monotonic() < deadline, "parecord recorded nothing"
            time.sleep(0.01)
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def read_raw(path: Path) -> Signal:
    return np.frombuffer(path.read_bytes(), np.int16).astype(np.float64)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "it") -> None:
    """Poll `condition()` until true (a guard against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
