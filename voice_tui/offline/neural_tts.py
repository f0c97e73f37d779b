"""The neural voice: hibari-tts (one Kokoro-derived American English voice, 24 kHz).

The model ships inside the wheel and is pinned by SHA-256; hibari's other voices would
download on first use, so only the bundled one is ever loaded (by path, never by name).
It speaks the female Realtime voices (and "heart", its own name); the others keep
their distinct espeak-ng voices, and espeak-ng also speaks whatever hibari cannot:
a part that fails never leaves the reply silent.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np

from voice_tui.offline.whisper_asr import sha256_of
from voice_tui.server.components import SAMPLE_RATE, Synthesizer

log = logging.getLogger(__name__)

HIBARI_PACKAGE: Final = "hibari"
# hibari-tts 0.2.1 (Apache-2.0): the bundled voice "heart" (distilled from Kokoro af_heart).
HIBARI_MODEL: Final = "assets/hibari.onnx"
HIBARI_SHA256: Final = "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"
# Realtime voices that hibari's single (female) voice speaks; the rest stay espeak-ng.
HIBARI_VOICES: Final = frozenset({"heart", "marin", "alloy", "coral", "sage", "shimmer"})
CHUNK_SAMPLES: Final = SAMPLE_RATE // 10  # 100 ms pieces, so playback starts at once
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0
_FRAME: Final = SAMPLE_RATE // 100  # 10 ms
_AUDIBLE_RMS: Final = 10 ** (-50 / 20)
_KEEP_LEAD: Final = SAMPLE_RATE // 50  # 20 ms


class SynthesizerUnavailable(RuntimeError):
    """hibari or its model could not be loaded (the engine falls back to espeak-ng)."""


def hibari_model_path() -> Path:
    spec = importlib.util.find_spec(HIBARI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SynthesizerUnavailable("hibari-tts is not installed (pip install hibari-tts)")
    return Path(next(iter(spec.submodule_search_locations))) / HIBARI_MODEL


@functools.lru_cache(maxsize=1)
def _loaded(path: Path) -> tuple[Any, threading.Lock]:
    """hibari loaded once per process, with the lock that serialises its use."""
    try:
        from hibari import Hibari

        tts = Hibari(model=str(path), threads=1)
        tts.phonemize("Ready.")  # load the G2P now, not in the first reply
    except Exception as e:  # onnxruntime missing, unsupported CPU...
        raise SynthesizerUnavailable(f"hibari could not load: {e}") from e
    return tts, threading.Lock()


def _lead_in(wav: np.ndarray) -> int:
    """Where to start: hibari opens each utterance with ~300 ms of near-silence, which
    would only delay the answer; keep 20 ms of it before the first audible 10 ms."""
    frames = wav[: wav.size - wav.size % _FRAME].reshape(-1, _FRAME)
    loud = np.flatnonzero(np.sqrt(np.mean(np.square(frames), axis=1)) > _AUDIBLE_RMS)
    if loud.size == 0:
        return 0
    return max(0, int(loud[0]) * _FRAME - _KEEP_LEAD)


class HibariSynthesizer:
    """A `Synthesizer` with hibari's bundled voice (any voice name is spoken with it)."""

    name = "hibari"

    def __init__(self) -> None:
        path = hibari_model_path()
        if not path.is_file():
            raise SynthesizerUnavailable(f"hibari's model {path} is missing")
        actual = sha256_of(path)
        if actual != HIBARI_SHA256:
            raise SynthesizerUnavailable(
                f"hibari's model {path} is not the pinned one (SHA-256 {actual[:16]}…, "
                f"expected {HIBARI_SHA256[:16]}…); refusing to load it"
            )
        self._tts, self._lock = _loaded(path)

    def synthesize(self, text: str, voice: str, speed: float) -> Generator[bytes, None, None]:
        text = text.strip()
        if not text:
            return
        speed = min(_MAX_SPEED, max(_MIN_SPEED, speed))
        with self._lock:  # one synthesis at a time: the G2P keeps state
            sentences = list(self._tts.phonemize(text))
        for index, phonemes in enumerate(sentences):
            with self._lock:
                wav = self._tts.from_phonemes(phonemes, speed)
            if index == 0:
                wav = wav[_lead_in(wav) :]
            pcm = (np.clip(wav, -1.0, 1.0) * 32767.0).astype("<i2")
            for start in range(0, pcm.size, CHUNK_SAMPLES):
                yield pcm[start : start + CHUNK_SAMPLES].tobytes()


class VoiceRouter:
    """hibari for the voices it speaks, espeak-ng for the others and as the fallback."""

    def __init__(self, neural: Synthesizer | None, espeak: Synthesizer | None) -> None:
        if neural is None and espeak is None:
            raise ValueError("VoiceRouter needs at least one synthesizer")
        self.neural = neural
        self.espeak = espeak
        self.name = " + ".join(s.name for s in (neural, espeak) if s is not None)

    def uses_neural(self, voice: str) -> bool:
        return self.neural is not None and (
            self.espeak is None or voice.casefold() in HIBARI_VOICES
        )

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        if not self.uses_neural(voice):
            assert self.espeak is not None
            yield from self.espeak.synthesize(text, voice, speed)
            return
        assert self.neural is not None
        produced = False
        try:
            for chunk in self.neural.synthesize(text, voice, speed):
                produced = True
                yield chunk
        except Exception as e:
            if produced or self.espeak is None:
                raise
            log.warning("hibari failed on a sentence (%s); speaking it with espeak-ng", e)
            yield from self.espeak.synthesize(text, voice, speed)
