"""The user's side of the end-to-end benchmark, in a process of its own.

It talks into the virtual microphone (its output stream goes to the sink `mic`, via
PULSE_SINK) and listens to the virtual speaker (its input stream records
`speaker.monitor`, via PULSE_SOURCE), both through PortAudio, so both moments come
from the devices' own timestamps:
- end of speech: when the last voiced sample of the utterance reached the `mic` sink
  (DAC);
- first answer: when the first loud sample from the speaker was captured (ADC).

    python -m bench.e2e_harness SPEECH.wav TRIALS
prints one JSON line per trial: {"speech_end": s, "first_audio": s, "reply_ms": ms}
(perf_counter seconds; CLOCK_MONOTONIC, so comparable across processes).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import wave
from typing import Any

import numpy as np
import soxr

RATE = 24_000
BLOCK = 480
LOUD_RMS = 1000.0  # the answer's tone is far above this, the idle speaker far below
WINDOW = 120  # 5 ms windows for finding where the answer starts
QUIET_AFTER_S = 0.8  # the answer is over after this long without sound
TRIAL_TIMEOUT_S = 20.0


class Ears:
    """Records the speaker's monitor; finds the first loud sample after a moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.listen_after: float | None = None
        self.first_loud: float | None = None
        self.last_loud = 0.0

    def callback(self, indata: Any, frames: int, stamp: Any, status: Any) -> None:
        now = time.perf_counter()
        adc = stamp.inputBufferAdcTime - stamp.currentTime + now
        x = indata[:, 0].astype(np.float64)
        usable = len(x) // WINDOW * WINDOW
        rms = np.sqrt(np.mean(x[:usable].reshape(-1, WINDOW) ** 2, axis=1))
        loud = np.flatnonzero(rms > LOUD_RMS)
        if not len(loud):
            return
        first = adc + int(loud[0]) * WINDOW / RATE
        with self.lock:
            self.last_loud = adc + frames / RATE
            after = self.listen_after
            if after is not None and self.first_loud is None and first > after:
                self.first_loud = first


class Mouth:
    """Plays one utterance into the `mic` sink; stamps when its last sample was played."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pcm = np.zeros(0, np.int16)
        self.pos = 0
        self.last_voiced = 0  # index just past the utterance's last voiced sample
        self.end_time: float | None = None

    def say(self, pcm: np.ndarray) -> None:
        with self.lock:
            self.pcm, self.pos, self.end_time = pcm, 0, None
            self.last_voiced = last_voiced(pcm)

    def callback(self, outdata: Any, frames: int, stamp: Any, status: Any) -> None:
        now = time.perf_counter()
        dac = stamp.outputBufferDacTime - stamp.currentTime + now
        out = outdata[:, 0]
        with self.lock:
            n = min(frames, len(self.pcm) - self.pos)
            out[:n] = self.pcm[self.pos : self.pos + n]
            out[n:] = 0
            if n > 0:
                if self.pos < self.last_voiced <= self.pos + n:
                    self.end_time = dac + (self.last_voiced - self.pos) / RATE
                self.pos += n


def last_voiced(pcm: np.ndarray) -> int:
    """Just past the last 5 ms window above -40 dBFS: the end of the speech itself (the
    synthesiser leaves silence after it)."""
    x = pcm.astype(np.float64)
    usable = len(x) // WINDOW * WINDOW
    rms = np.sqrt(np.mean(x[:usable].reshape(-1, WINDOW) ** 2, axis=1))
    voiced = np.flatnonzero(rms > 32768 * 0.01)
    return int(voiced[-1] + 1) * WINDOW if len(voiced) else len(pcm)


def read_speech(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        raw = w.readframes(w.getnframes())
        rate, channels = w.getframerate(), w.getnchannels()
    x = np.frombuffer(raw, np.int16).reshape(-1, channels)[:, 0].astype(np.float32)
    y = soxr.resample(x, rate, RATE)
    return np.asarray(np.clip(y, -32768, 32767), dtype=np.int16)


def wait(test: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def main(argv: list[str]) -> int:
    import sounddevice as sd  # after the PULSE_* environment is in place

    speech = read_speech(argv[0])
    trials = int(argv[1])
    ears, mouth = Ears(), Mouth()
    kwargs: dict[str, Any] = {
        "samplerate": RATE,
        "channels": 1,
        "dtype": "int16",
        "blocksize": BLOCK,
        "latency": "low",
    }
    with (
        sd.InputStream(callback=ears.callback, **kwargs),
        sd.OutputStream(callback=mouth.callback, **kwargs),
    ):
        time.sleep(0.5)  # both streams running
        for _ in range(trials):
            with ears.lock:
                ears.listen_after, ears.first_loud = None, None
            mouth.say(speech)
            if not wait(lambda: mouth.end_time is not None, TRIAL_TIMEOUT_S):
                print(json.dumps({"error": "the utterance did not play"}), flush=True)
                return 1
            with ears.lock:
                ears.listen_after = mouth.end_time
            if not wait(lambda: ears.first_loud is not None, TRIAL_TIMEOUT_S):
                print(json.dumps({"error": "no answer was heard"}), flush=True)
                return 1
            wait(lambda: time.perf_counter() - ears.last_loud > QUIET_AFTER_S, TRIAL_TIMEOUT_S)
            assert mouth.end_time is not None and ears.first_loud is not None
            print(
                json.dumps(
                    {
                        "speech_end": mouth.end_time,
                        "first_audio": ears.first_loud,
                        "reply_ms": (ears.first_loud - mouth.end_time) * 1000,
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
