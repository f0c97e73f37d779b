"""The offline engine loaded in the background: usable at once, better when ready.

Loading Whisper, hibari and Silero takes seconds on a small machine. The server starts
straight away with parts that bind late: typed turns are answered at once (espeak-ng
speaks until hibari is ready), the energy VAD listens until Silero is ready, and speech
that arrives before Whisper is ready waits for it in the recognition thread, so none of
it is lost. `LoadingStatus` says what is loading and what could not load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from voice_tui.config.schema import Settings
from voice_tui.server.components import Components, RecognitionStream, Recognizer, Synthesizer
from voice_tui.server.vad import EnergyVad, VadFactory, VadSettings, VoiceActivityDetector

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class LoadingStatus:
    """What the background load has done so far; read from any thread."""

    parts: tuple[str, ...] = ("recogniser", "voice", "voice detector")
    loaded: list[str] = field(default_factory=list)  # their names once loaded
    notes: list[str] = field(default_factory=list)  # what fell back, and why
    seconds: float | None = None  # set when everything is settled
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _listeners: list[Callable[[LoadingStatus], None]] = field(default_factory=list, repr=False)

    @property
    def done(self) -> bool:
        return self.seconds is not None

    def summary(self) -> str:
        """One line for a status bar: progress while loading, the parts when done."""
        with self._lock:
            if self.seconds is None:
                return f"loading speech models {len(self.loaded)}/{len(self.parts)}…"
            return " · ".join(self.loaded)

    def subscribe(self, listener: Callable[[LoadingStatus], None]) -> None:
        """Called (from the loading thread) after each step; at once if already done."""
        with self._lock:
            self._listeners.append(listener)
            done = self.seconds is not None
        if done:
            listener(self)

    def _step(self, name: str | None, notes: list[str]) -> None:
        with self._lock:
            if name:
                self.loaded.append(name)
            self.notes.extend(notes)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(self)
            except Exception:  # a listener's failure must not stop the load
                log.exception("loading listener failed")

    def _finish(self, seconds: float) -> None:
        with self._lock:
            self.seconds = seconds
        self._step(None, [])


class _Slot(Generic[T]):
    """A part that appears later; readers may wait for it."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: T | None = None

    def set(self, value: T | None) -> None:
        self._value = value
        self._ready.set()

    def peek(self) -> T | None:
        return self._value

    def wait(self) -> T | None:
        self._ready.wait()
        return self._value

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


class LateRecognizer:
    """Whisper once loaded (or its fallback); an utterance begun earlier waits for it."""

    def __init__(self, slot: _Slot[Recognizer]) -> None:
        self._slot = slot

    @property
    def name(self) -> str:
        part = self._slot.peek()
        return part.name if part is not None else "loading"

    def start(self, language: str | None = None, prompt: str | None = None) -> RecognitionStream:
        # Called in the recognition thread: waiting here holds no event loop.
        part = self._slot.wait()
        if part is None:
            raise RuntimeError("no speech recogniser could be loaded on this machine")
        return part.start(language, prompt)


class LateSynthesizer:
    """hibari + espeak-ng once loaded; espeak-ng alone until then."""

    def __init__(self, slot: _Slot[Synthesizer], early: Synthesizer | None) -> None:
        self._slot = slot
        self._early = early

    @property
    def name(self) -> str:
        part = self._slot.peek() or self._early
        return part.name if part is not None else "none"

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        part = self._slot.peek() if self._slot.ready else self._early
        if part is None:
            part = self._slot.wait()
        if part is None:
            return iter(())
        return iter(part.synthesize(text, voice, speed))


def _late_vad(slot: _Slot[VadFactory]) -> VadFactory:
    def make(settings: VadSettings, start_ms: int) -> VoiceActivityDetector:
        factory = slot.peek()
        return factory(settings, start_ms) if factory is not None else EnergyVad(settings, start_ms)

    return make


def _load_into(
    slot: _Slot[T],
    label: str,
    build: Callable[[list[str]], T | None],
    status: LoadingStatus,
    name: str | None = None,
) -> None:
    """Build one part into its slot (None if it cannot load) and report the step."""
    notes: list[str] = []
    try:
        part = build(notes)
    except Exception as e:  # never leave a waiting utterance hanging
        log.exception("loading the %s failed", label)
        notes.append(f"The {label} could not load ({e}).")
        part = None
    slot.set(part)
    if part is not None:
        name = name or str(getattr(part, "name", label))
    status._step(name if part is not None else None, notes)


def start_loading(settings: Settings | None = None) -> tuple[Components, LoadingStatus]:
    """Components usable now, and the status of the parts loading in a thread."""
    from voice_tui.offline import _recognizer, _responder, _synthesizer, _vad, espeak_only

    notes: list[str] = []
    responder = _responder(settings, notes)
    status = LoadingStatus(notes=notes)
    recognizer: _Slot[Recognizer] = _Slot()
    synthesizer: _Slot[Synthesizer] = _Slot()
    vad: _Slot[VadFactory] = _Slot()

    def load() -> None:
        started = time.perf_counter()
        _load_into(recognizer, "recogniser", lambda n: _recognizer(settings, n), status)
        _load_into(synthesizer, "voice", _synthesizer, status)
        _load_into(vad, "voice detector", _vad, status, name="Silero VAD")
        status._finish(time.perf_counter() - started)

    # Not a daemon: a process that ends while a model is half loaded would be aborted by
    # the native library's teardown, so exit waits the few seconds the load has left.
    threading.Thread(target=load, name="offline-load").start()
    components = Components(
        recognizer=LateRecognizer(recognizer),
        synthesizer=LateSynthesizer(synthesizer, espeak_only()),
        responder=responder,
        notes=(),
        vad=_late_vad(vad),
        loading=status,
    )
    return components, status
