"""Speech recognition with pocketsphinx and the en-US model its wheel carries.

Loading a decoder takes a noticeable fraction of a second, so decoders are pooled:
`start()` borrows one (creating it only when all are busy) and `finish()` returns it.
Audio arrives at 24 kHz and is resampled to the model's 16 kHz as a stream. Partial
hypotheses are read only every ~300 ms of audio, because each read walks the search
lattice; the search itself keeps up with every chunk so `finish()` is quick.

Channel adaptation: pocketsphinx normalises features by a running cepstral mean, which
is poor until it has heard the speaker's channel (measured on tests/support/phrases.py:
WER 0.38 from the model's default mean, 0.26 once adapted). The recogniser keeps the
mean of the last understood utterance and starts every utterance from it, whichever
pooled decoder runs it. Until one exists, the final transcript is decoded a second
time over the whole utterance with its own mean (batch CMN, WER 0.24): slower, but
only for the first utterance.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Final

import numpy as np
import soxr

from voice_tui.server.components import SAMPLE_RATE

MODEL_RATE: Final = 16_000
PARTIAL_EVERY_SAMPLES: Final = MODEL_RATE * 300 // 1000

# The wheel's default en-US model and search settings: measured on the phrase set,
# none of language weight, word insertion penalty, wider beams or skipping passes
# did better than the defaults across voices, so none is changed.
DECODER_OPTIONS: Final[dict[str, Any]] = {}


class RecognizerUnavailable(RuntimeError):
    """pocketsphinx or its model could not be loaded on this platform."""


class _DecoderPool:
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._free: list[Any] = []
        self._lock = threading.Lock()
        self.created = 0

    def take(self) -> Any:
        with self._lock:
            if self._free:
                return self._free.pop()
        return self.create()

    def give_back(self, decoder: Any) -> None:
        with self._lock:
            self._free.append(decoder)

    def give_back_unfinished(self, decoder: Any) -> None:
        """A stream was dropped mid-utterance (buffer cleared, session closed)."""
        try:
            decoder.end_utt()
        except Exception:  # a decoder in an unknown state is not reused
            return
        self.give_back(decoder)

    def create(self) -> Any:
        try:
            from pocketsphinx import Decoder

            decoder = Decoder(samprate=MODEL_RATE, **self._options)
            with self._lock:
                self.created += 1
            return decoder
        except (ImportError, OSError, RuntimeError, ValueError) as e:
            raise RecognizerUnavailable(f"pocketsphinx could not load its model: {e}") from e


class _ChannelMean:
    """The cepstral mean shared by all utterances of one recogniser."""

    def __init__(self, initial: str) -> None:
        self.initial = initial
        self._adapted: str | None = None
        self._lock = threading.Lock()

    def get(self) -> str | None:
        with self._lock:
            return self._adapted

    def set(self, mean: str) -> None:
        with self._lock:
            self._adapted = mean


class PocketsphinxStream:
    """One utterance. Not thread-safe: the server owns it."""

    def __init__(self, pool: _DecoderPool, channel: _ChannelMean) -> None:
        self._pool = pool
        self._channel = channel
        self._decoder: Any = pool.take()
        # Dropped without finish(): the decoder still goes back to the pool.
        self._release = weakref.finalize(self, pool.give_back_unfinished, self._decoder)
        adapted = channel.get()
        self._decoder.set_cmn(adapted or channel.initial)
        # Kept only when the final pass must re-decode the whole utterance.
        self._audio: list[bytes] | None = None if adapted else []
        self._resampler = soxr.ResampleStream(SAMPLE_RATE, MODEL_RATE, 1, dtype="int16")
        self._since_partial = 0
        self._partial = ""
        self._final: str | None = None
        self._decoder.start_utt()

    def feed(self, pcm: bytes) -> str | None:
        if self._final is not None:
            raise RuntimeError("feed() after finish()")
        if len(pcm) % 2:
            pcm = pcm[:-1]  # a torn sample cannot be decoded; never raise on the hot path
        samples = self._resampler.resample_chunk(np.frombuffer(pcm, np.int16))
        if samples.size:
            self._process(samples.tobytes())
        self._since_partial += samples.size
        if self._since_partial < PARTIAL_EVERY_SAMPLES:
            return None
        self._since_partial = 0
        partial = self._hypothesis()
        if partial == self._partial:
            return None
        self._partial = partial
        return partial

    def finish(self) -> str:
        if self._final is not None:
            return self._final
        try:
            tail = self._resampler.resample_chunk(np.zeros(0, np.int16), last=True)
            if tail.size:
                self._process(tail.tobytes())
            self._decoder.end_utt()
            final = self._hypothesis()
            if final:
                self._channel.set(self._decoder.get_cmn())
                if self._audio is not None:
                    final = self._decode_whole(b"".join(self._audio)) or final
            self._final = final
        finally:
            self._audio = None
            self._release.detach()
            self._pool.give_back(self._decoder)
        return self._final

    def _process(self, samples: bytes) -> None:
        if self._audio is not None:
            self._audio.append(samples)
        self._decoder.process_raw(samples, False, False)

    def _decode_whole(self, samples: bytes) -> str:
        self._decoder.start_utt()
        self._decoder.process_raw(samples, False, True)
        self._decoder.end_utt()
        return self._hypothesis()

    def _hypothesis(self) -> str:
        hyp = self._decoder.hyp()
        return str(hyp.hypstr).strip() if hyp is not None else ""


class PocketsphinxRecognizer:
    """The `Recognizer` of the offline engine (English only: the wheel's model)."""

    name = "pocketsphinx"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._pool = _DecoderPool(DECODER_OPTIONS if options is None else options)
        # Load one decoder now: a missing model is reported at start-up, not mid-call.
        first = self._pool.create()
        self._channel = _ChannelMean(str(first.get_cmn()))
        self._pool.give_back(first)

    @property
    def decoders_loaded(self) -> int:
        """How many decoders were loaded: one per utterance running at the same time."""
        return self._pool.created

    def start(self, language: str | None = None, prompt: str | None = None) -> PocketsphinxStream:
        # The wheel only has an en-US model: other languages would come out as English
        # nonsense, so say so instead. `prompt` cannot steer this model.
        if language and not language.casefold().startswith("en"):
            raise ValueError(
                f"the offline recogniser only understands English, not {language!r} "
                "(session.transcription_language)"
            )
        return PocketsphinxStream(self._pool, self._channel)
