"""Speech synthesis with libespeak-ng, loaded from the `espeakng-loader` wheel.

The wheel carries the shared library and its data, so nothing depends on a system
espeak-ng and nothing downloads at run time. libespeak-ng is one global state per
process: one lock serialises every use of it. Synthesis runs in a helper thread so
chunks reach the caller while the rest of the sentence is still being synthesised.
"""

from __future__ import annotations

import ctypes
import queue
import re
import threading
from collections.abc import Callable, Generator
from typing import Any, Final

import numpy as np
import soxr

from voice_tui.server.components import SAMPLE_RATE

# espeak_AUDIO_OUTPUT / espeak_PARAMETER / flags, from speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_ESPEAK_RATE: Final = 1
_ESPEAK_PITCH: Final = 3
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 1
_EE_OK: Final = 0
_BUFFER_MS: Final = 60  # how much audio espeak hands to the callback at a time

_DEFAULT_WPM: Final = 175  # espeak-ng's own default rate, our speed 1.0
_MIN_WPM: Final = 80
_MAX_WPM: Final = 450

# The Realtime voices mapped to distinct espeak-ng voices (accent + variant + pitch), so
# switching persona voice is audible offline too. Pitch is espeak's 0-100 (default 50).
VOICE_MAP: Final[dict[str, tuple[str, int]]] = {
    "alloy": ("en-us+f2", 35),
    "ash": ("en-us+m3", 50),
    "ballad": ("en+m1", 40),
    "coral": ("en-us+f3", 55),
    "echo": ("en-us+m1", 20),
    "sage": ("en+f4", 75),
    "shimmer": ("en-us+f4", 90),
    "verse": ("en-029+m2", 65),
    "marin": ("en-us+f1", 60),
    "cedar": ("en-us+m7", 35),
}
_FALLBACK_VOICE: Final = ("en-us", 50)
_ESPEAK_NAME: Final = re.compile(r"[A-Za-z0-9_.+-]{1,64}")

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class SynthesizerUnavailable(RuntimeError):
    """libespeak-ng could not be loaded or initialised on this platform."""


def espeak_voice(voice: str) -> tuple[str, int]:
    """The espeak-ng voice name and pitch for a Realtime voice.

    Any other name that looks like an espeak-ng voice ("en-gb-scotland+m2") is tried
    as such, so users can pick one in the config; unknown ones fall back to en-us."""
    mapped = VOICE_MAP.get(voice.casefold())
    if mapped is not None:
        return mapped
    if _ESPEAK_NAME.fullmatch(voice):
        return voice, _FALLBACK_VOICE[1]
    return _FALLBACK_VOICE


_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(\s*[AP]\.?M\.?\b)?", re.IGNORECASE)


def _say_clock(match: re.Match[str]) -> str:
    hour, minute, half = match.group(1), match.group(2), match.group(3) or ""
    if minute == "00":
        if half:
            return f"{hour}{half}"
        return f"{hour} o'clock" if int(hour) <= 12 else f"{hour} hundred"
    if minute.startswith("0"):
        return f"{hour} oh {minute[1]}{half}"
    return f"{hour} {minute}{half}"


def speakable(text: str) -> str:
    """Text as it should be read aloud: espeak reads "8:01" as "eight zero one", so
    clock times become words ("8 oh 1", "8 o'clock"). The transcript keeps the digits."""
    return _CLOCK.sub(_say_clock, text)


def words_per_minute(speed: float) -> int:
    """The Realtime `speed` (1.0 = normal) as espeak-ng words per minute."""
    return max(_MIN_WPM, min(_MAX_WPM, round(_DEFAULT_WPM * speed)))


class _Espeak:
    """The process-wide libespeak-ng, initialised once."""

    _instance: _Espeak | None = None
    _create_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            import espeakng_loader

            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (ImportError, OSError, RuntimeError) as e:
            raise SynthesizerUnavailable(f"libespeak-ng could not be loaded: {e}") from e
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self.lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path.encode(), 0
        )
        if rate <= 0:
            raise SynthesizerUnavailable(f"espeak_Initialize failed with data at {data_path}")
        self.sample_rate: int = rate
        self.lock = threading.Lock()
        # Set per synthesis call; the C callback forwards to it.
        self.on_samples: Callable[[bytes], None] | None = None
        self._callback = _SynthCallback(self._forward)  # kept alive: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _forward(self, wav: Any, count: int, _events: Any) -> int:
        # Always 0 (continue): a sentence takes espeak a few ms, so when the consumer
        # goes away the rest is synthesised and dropped rather than aborted mid-way,
        # which keeps espeak's internal queues in their normal state.
        if self.on_samples is not None and count > 0 and wav:
            self.on_samples(ctypes.string_at(wav, count * 2))
        return 0

    @classmethod
    def get(cls) -> _Espeak:
        with cls._create_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance


class EspeakSynthesizer:
    """The `Synthesizer` of the offline engine: espeak-ng, 24 kHz pcm16 chunks."""

    name = "espeak-ng"

    def __init__(self) -> None:
        self._espeak = _Espeak.get()  # raises SynthesizerUnavailable: caller degrades

    def synthesize(self, text: str, voice: str, speed: float) -> Generator[bytes, None, None]:
        """Yield 24 kHz pcm16 chunks as espeak produces them; `close()` aborts synthesis."""
        text = text.strip()
        if not text:
            return
        chunks: queue.Queue[bytes | BaseException | None] = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(
            target=self._run,
            args=(text, voice, speed, chunks, stop),
            name="espeak-synth",
            daemon=True,
        )
        worker.start()
        resampler = soxr.ResampleStream(self._espeak.sample_rate, SAMPLE_RATE, 1, dtype="int16")
        try:
            while True:
                item = chunks.get()
                if item is None:
                    tail = resampler.resample_chunk(np.zeros(0, np.int16), last=True)
                    if tail.size:
                        yield tail.tobytes()
                    return
                if isinstance(item, BaseException):
                    raise item
                out = resampler.resample_chunk(np.frombuffer(item, np.int16))
                if out.size:
                    yield out.tobytes()
        finally:
            # The consumer stopped early (cancelled response): drop what is left.
            stop.set()
            worker.join()

    def _run(
        self,
        text: str,
        voice: str,
        speed: float,
        chunks: queue.Queue[bytes | BaseException | None],
        stop: threading.Event,
    ) -> None:
        espeak = self._espeak

        def on_samples(data: bytes) -> None:
            if not stop.is_set():  # the consumer has gone: drop the rest
                chunks.put(data)

        try:
            with espeak.lock:
                name, pitch = espeak_voice(voice)
                if espeak.lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
                    name, pitch = _FALLBACK_VOICE
                    espeak.lib.espeak_SetVoiceByName(name.encode())
                espeak.lib.espeak_SetParameter(_ESPEAK_RATE, words_per_minute(speed), 0)
                espeak.lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
                espeak.on_samples = on_samples
                try:
                    data = speakable(text).encode("utf-8") + b"\0"
                    err = espeak.lib.espeak_Synth(
                        data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                    )
                finally:
                    espeak.on_samples = None
            if err != _EE_OK and not stop.is_set():
                chunks.put(RuntimeError(f"espeak-ng could not synthesise (error {err})"))
        except BaseException as e:  # handed to the consuming thread, which re-raises
            chunks.put(e)
        finally:
            chunks.put(None)
