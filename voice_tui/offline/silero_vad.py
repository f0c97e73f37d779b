"""Silero VAD (v6, the ONNX model faster-whisper ships) for the built-in server_vad.

The model hears 32 ms windows at 16 kHz and says how likely each is speech. The
Realtime settings map onto it as Silero's own reference code uses them: `threshold`
is the speech probability a window must reach (0.5 by default in both), a turn ends
after `silence_duration_ms` below `threshold - 0.15` (hysteresis, so a turn is not cut
at every soft syllable), and the start reaches back `prefix_padding_ms`. onnxruntime
is already there for the voice and the recogniser, so this costs no new package.

Windows far below any voice (under -60 dBFS), or no louder than the room's steady
level while nobody speaks, are silence without running the model: speech always rises
above the room, so listening costs about what the energy VAD did, quiet or noisy.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np
import soxr

from voice_tui.offline.whisper_asr import sha256_of
from voice_tui.server.components import SAMPLE_RATE
from voice_tui.server.vad import SpeechTail, VadEvent, VadSettings

MODEL_RATE: Final = 16_000
WINDOW: Final = 512  # samples at 16 kHz: 32 ms
_CONTEXT: Final = 64  # samples of the previous window the model sees
WINDOW_MS: Final = WINDOW * 1000 // MODEL_RATE
_BYTES_24K: Final = WINDOW * SAMPLE_RATE // MODEL_RATE * 2
_ONSET_WINDOWS: Final = 2  # consecutive speech windows (64 ms) to start a turn
_HYSTERESIS: Final = 0.15
_GATE_RMS: Final = 10 ** (-60 / 20)
_FLOOR_RISE: Final = 10 ** (0.1 / 20)  # the floor may rise 0.1 dB a window (3 dB/s)
_ABOVE_FLOOR: Final = 10 ** (6 / 20)  # a window 6 dB over the floor may be speech
# faster-whisper 1.2.1's assets/silero_vad_v6.onnx (MIT, from snakers4/silero-vad).
MODEL_FILE: Final = "assets/silero_vad_v6.onnx"
MODEL_SHA256: Final = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"


class VadUnavailable(RuntimeError):
    """onnxruntime or the Silero model could not be loaded (energy VAD instead)."""


@functools.lru_cache(maxsize=1)
def shared_model() -> SileroModel:
    """The model loaded once per process (it holds no per-session state)."""
    return SileroModel()


class SileroModel:
    """The loaded ONNX session, shared by every session's detector."""

    def __init__(self) -> None:
        spec = importlib.util.find_spec("faster_whisper")
        if spec is None or not spec.submodule_search_locations:
            raise VadUnavailable("faster-whisper (which ships the Silero model) is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
        if not path.is_file() or sha256_of(path) != MODEL_SHA256:
            raise VadUnavailable(f"the Silero VAD model {path} is missing or not the pinned one")
        try:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 4
            self._session: Any = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime missing, unsupported CPU
            raise VadUnavailable(f"Silero VAD could not load: {e}") from e
        self.lock = threading.Lock()

    def detector(self, settings: VadSettings, start_ms: int = 0) -> SileroVad:
        return SileroVad(self, settings, start_ms)

    def probability(self, window: np.ndarray, state: list[np.ndarray]) -> float:
        """Speech probability of one window (with its context); updates `state` (h, c)."""
        with self.lock:
            out, h, c = self._session.run(None, {"input": window, "h": state[0], "c": state[1]})
        state[0], state[1] = h, c
        return float(out.reshape(-1)[0])


class SileroVad:
    """Feed it every appended byte; it returns speech started / stopped transitions."""

    def __init__(self, model: SileroModel, settings: VadSettings, start_ms: int = 0) -> None:
        self.settings = settings
        self._model = model
        self._now_ms = start_ms
        self._pending = b""
        self._resampler = soxr.ResampleStream(SAMPLE_RATE, MODEL_RATE, 1, dtype="float32")
        self._samples = np.zeros(0, np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)
        self._state = [np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32)]
        self._run = 0  # consecutive speech windows before a turn starts
        self._floor = 0.0
        self._onset_ms = 0
        self.in_speech = False
        self._tail = SpeechTail(settings)

    @property
    def now_ms(self) -> int:
        return self._now_ms

    def feed(self, pcm: bytes) -> list[VadEvent]:
        data = self._pending + pcm
        whole = len(data) - len(data) % 2
        self._pending = data[whole:]
        if whole:
            fresh = np.frombuffer(data[:whole], "<i2").astype(np.float32) / 32768.0
            self._samples = np.concatenate([self._samples, self._resampler.resample_chunk(fresh)])
        events: list[VadEvent] = []
        while self._samples.size >= WINDOW:
            window, self._samples = self._samples[:WINDOW], self._samples[WINDOW:]
            start = self._now_ms
            self._now_ms += WINDOW_MS
            event = self._step(start, self._probability(window))
            if event is not None:
                events.append(event)
        return events

    def _probability(self, window: np.ndarray) -> float:
        framed = np.concatenate([self._context, window])[None, :]
        self._context = window[-_CONTEXT:]
        rms = float(np.sqrt(np.mean(np.square(window))))
        # The room's steady level: follows quiet at once, loud only slowly.
        self._floor = min(rms, self._floor * _FLOOR_RISE) if self._floor > 0 else rms
        steady = rms < self._floor * _ABOVE_FLOOR and not self.in_speech and self._run == 0
        if rms < _GATE_RMS or steady:
            return 0.0  # nobody started speaking: speech always rises above the room
        return self._model.probability(framed, self._state)

    def _step(self, start_ms: int, probability: float) -> VadEvent | None:
        threshold = self.settings.threshold
        if not self.in_speech:
            if probability >= threshold:
                if self._run == 0:
                    self._onset_ms = start_ms
                self._run += 1
            else:
                self._run = 0
            if self._run >= _ONSET_WINDOWS:
                self.in_speech = True
                self._run = 0
                self._tail.begin()
                self._tail.heard(self._now_ms)
                return VadEvent("started", max(0, self._onset_ms - self.settings.prefix_padding_ms))
            return None
        voiced = probability >= max(0.01, threshold - _HYSTERESIS)
        event = self._tail.step(start_ms, self._now_ms, voiced)
        if event is not None and event.kind == "stopped":
            self.in_speech = False
        return event
