"""Open-speaker conversations for the echo tests and benchmarks.

The project's local server speaks long answers (espeak-ng) through the real SDK into
the engine and out of the virtual speaker; a PulseAudio loopback
(`scripts/virtual-audio.sh loopback-on`) feeds the speaker back into the virtual
microphone, as open speakers would. `EchoSession` runs answers and reports, for each,
whether server VAD heard "speech" (a self-interruption when nobody spoke) and the
echo figures; `barge_in` plays a user's speech into the mic mid-answer and reports
whether and how fast the assistant was interrupted.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.virtual_audio import REPO, VIRTUAL_AUDIO, VirtualAudio
from voice_tui.audio.echo import EchoProcessor, make_mic_processor
from voice_tui.audio.echo_metrics import EchoFigures, EchoRecording
from voice_tui.audio.worker import AudioWorker
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import EchoMode, Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import (
    AppEvent,
    AssistantInterrupted,
    AudioChunk,
    ErrorRaised,
    Phase,
    PhaseChanged,
    ResponseFinished,
    ResponseStarted,
    SpeechStarted,
)
from voice_tui.core.tools import build_registry
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.runtime import audio_worker_for
from voice_tui.server.app import start_server
from voice_tui.server.components import Components, ResponderPiece, ResponderRequest, TextPiece

API_KEY = "sk-local-echo-test"
STORY = (  # about 12 s of espeak-ng speech
    "Once upon a time, in a small village by the sea, there lived an old fisherman "
    "who told stories to anyone who would listen. Every evening he came back with a "
    "basket of fish and a new tale about the strange creatures of the deep."
)
WAIT_S = 40.0  # a guard against hangs, not a timing assertion
HEARD_WITHIN_S = 2.0  # after the user's speech has been played: a barge-in or a miss

MIN_ERLE_DB = 20.0  # a sane floor: AEC3 alone measured well above it here


class _Heard:
    def __init__(self) -> None:
        self.audio = False

    def feed(self, pcm: bytes) -> str | None:
        self.audio = self.audio or bool(pcm)
        return None

    def finish(self) -> str:
        return "tell me another story" if self.audio else ""


class AnyRecognizer:
    """Echo handling is about what reaches server VAD, not what it means: every user
    turn is heard as a request for another story."""

    name = "echo-test-any"

    def start(self, language: str | None = None, prompt: str | None = None) -> _Heard:
        return _Heard()


class Storyteller:
    name = "echo-test-story"

    def __init__(self, text: str) -> None:
        self.text = text

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        yield TextPiece(self.text)


@contextmanager
def echo_loopback(audio: VirtualAudio, level_db: float, delay_ms: int) -> Iterator[None]:
    """Open speakers for the duration: the virtual speaker heard by the virtual mic."""

    def script(*args: str) -> None:
        subprocess.run(
            [str(VIRTUAL_AUDIO), *args], cwd=REPO, env=audio.env_full(), check=True, timeout=30
        )

    script("loopback-on", str(level_db), str(delay_ms))
    try:
        yield
    finally:
        script("loopback-off")


@dataclass
class AnswerResult:
    item_id: str
    speech_started: int  # server VAD "speech" while nobody spoke: self-interruptions
    interrupted: bool
    figures: EchoFigures | None  # over the answer's mic audio (None in mode "off")
    heard_ms: int  # assistant speech that reached the speaker
    first_speech_ms: float | None  # from the answer's first audio to the first speech_started


@dataclass
class BargeInResult:
    detected: bool
    delay_ms: float | None  # from starting the user's speech to speech_started


@dataclass
class EchoSession:
    """A running conversation with open speakers; use `open_echo_session`."""

    engine: ConversationEngine
    worker: AudioWorker
    processor: EchoProcessor | None
    recording: EchoRecording
    audio: VirtualAudio
    events: list[tuple[float, AppEvent]] = field(default_factory=list)

    def on_event(self, event: AppEvent) -> None:
        self.events.append((time.perf_counter(), event))

    def since(self, index: int, kind: type[AppEvent]) -> list[tuple[float, AppEvent]]:
        return [(t, e) for t, e in self.events[index:] if isinstance(e, kind)]

    @property
    def errors(self) -> list[AppEvent]:
        return [e for _, e in self.events if isinstance(e, ErrorRaised)]

    @staticmethod
    async def poll(condition: Callable[[], bool]) -> None:
        # State of the audio thread and the engine: polled, there is no event to await.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_S):
                await self.poll(condition)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def _answer_starts(self, mark: int) -> str:
        await self.until(lambda: bool(self.since(mark, AudioChunk)), "the answer")
        chunk = self.since(mark, AudioChunk)[0][1]
        assert isinstance(chunk, AudioChunk)
        return chunk.item_id

    def _listening_after(self, mark: int) -> bool:
        phases = [e.phase for _, e in self.since(mark, PhaseChanged) if isinstance(e, PhaseChanged)]
        return (
            Phase.ASSISTANT_SPEAKING in phases
            and self.engine.phase is Phase.LISTENING
            and not self.worker.is_playing()
        )

    def _quiet(self) -> bool:
        """Every response done and nothing playing: ready for the next request. (After
        `interrupt()` the engine may stay in ASSISTANT_SPEAKING: the phase is no guide.)"""
        started = len(self.since(0, ResponseStarted))
        finished = len(self.since(0, ResponseFinished))
        return (
            started == finished
            and self.engine.phase is not Phase.USER_SPEAKING
            and not self.worker.is_playing()
        )

    async def answer(self, stop_at_first_speech: bool = False) -> AnswerResult:
        """Ask for a story and let it play out with nobody speaking."""
        await self.until(lambda: self.engine.phase is Phase.LISTENING, "listening")
        mark, start = len(self.events), self.recording.samples
        await self.engine.send_text("Tell me a long story.")
        item_id = await self._answer_starts(mark)

        def done() -> bool:
            if stop_at_first_speech and self.since(mark, SpeechStarted):
                return True
            return self._listening_after(mark)

        await self.until(done, "the answer to end")
        speech = self.since(mark, SpeechStarted)
        interrupted = bool(self.since(mark, AssistantInterrupted))
        figures = self.recording.figures(start) if self.recording.samples > start else None
        first_audio = self.since(mark, AudioChunk)[0][0]
        first_speech = (speech[0][0] - first_audio) * 1000 if speech else None
        heard = self.worker.heard(item_id)
        return AnswerResult(item_id, len(speech), interrupted, figures, heard, first_speech)

    def _new_answer(self, mark: int, old_item: str) -> bool:
        return any(
            isinstance(e, AudioChunk) and e.item_id != old_item
            for _, e in self.since(mark, AudioChunk)
        )

    async def barge_in(self, speech: Path, after_ms: int = 1500) -> BargeInResult:
        """Ask for a story, speak `speech` into the mic `after_ms` into it, and see
        whether server VAD heard the user over the echo."""
        await self.until(self._quiet, "the conversation to be quiet")
        mark = len(self.events)
        await self.engine.send_text("Tell me a long story.")
        item_id = await self._answer_starts(mark)
        await self.until(lambda: self.worker.heard(item_id) >= after_ms, "the answer to play")
        spoken = len(self.events)
        started = time.perf_counter()
        player = await asyncio.create_subprocess_exec(
            "paplay", "--device=mic", str(speech), env=self.audio.env_full()
        )
        await player.wait()
        heard = True
        try:
            async with asyncio.timeout(HEARD_WITHIN_S):
                await self.poll(lambda: bool(self.since(spoken, SpeechStarted)))
        except TimeoutError:
            heard = False
        delay = (self.since(spoken, SpeechStarted)[0][0] - started) * 1000 if heard else None
        if heard:  # the user's turn gets its own answer: let it begin, then cut it
            await self.until(lambda: self.engine.phase is not Phase.USER_SPEAKING, "user turn")
            await self.until(lambda: self._new_answer(spoken, item_id), "the next answer")
            await self.engine.interrupt()
        await self.until(self._quiet, "the conversation to be quiet")
        return BargeInResult(heard, delay)


@asynccontextmanager
async def open_echo_session(
    audio: VirtualAudio, data_dir: Path, mode: EchoMode, story: str = STORY
) -> AsyncIterator[EchoSession]:
    """The local server, the SDK, the engine and a real AudioWorker with the echo
    processor of `mode` installed as the runtime installs it."""
    server = await start_server(
        components=Components(AnyRecognizer(), EspeakSynthesizer(), Storyteller(story)),
        api_key=API_KEY,
    )
    settings = Settings.model_validate(
        {
            "backend": {"kind": "openai"},
            "openai": {"api_key": API_KEY, "base_url": server.base_url},
            "audio": {"echo": mode},
            "tools": {"data_dir": str(data_dir)},
        }
    )
    backend = OpenAIBackend(settings)
    engine = ConversationEngine(settings, backend, build_registry(settings))
    worker = audio_worker_for(engine, settings.audio)
    recording = EchoRecording()
    processor = make_mic_processor(settings.audio, worker, monitor=recording)
    worker.set_mic_processor(processor)
    session = EchoSession(engine, worker, processor, recording, audio)
    try:
        status = await asyncio.to_thread(worker.start)
        assert status.problem is None, status.problem
        engine.playback = worker
        engine.subscribe(session.on_event)
        await engine.start()
        yield session
    finally:
        await asyncio.to_thread(worker.close)
        await engine.close()
        await backend.aclose()
        await server.close()


@dataclass(frozen=True)
class OpenSpeakerFigures:
    """What the benchmark reports for one echo level (see `measure_open_speakers`)."""

    mode: EchoMode
    level_db: float
    delay_ms: int
    answers: int
    assistant_speech_s: float  # heard from the speaker over all answers
    self_interruptions: int  # speech_started while nobody spoke
    canceller_erle_db: list[float]  # per answer (AEC3 alone)
    sent_dbfs: list[float]  # per answer: the echo that reached the server
    cpu_share: float  # CPU seconds of echo handling per second of audio
    barge_ins: list[BargeInResult]
    first_self_interruption_ms: float | None  # mode "off": how soon it cut itself off

    @property
    def self_interruptions_per_10_min(self) -> float:
        return (
            self.self_interruptions / self.assistant_speech_s * 600
            if self.assistant_speech_s
            else 0
        )

    @property
    def barge_in_rate(self) -> float:
        return (
            sum(b.detected for b in self.barge_ins) / len(self.barge_ins) if self.barge_ins else 0
        )


async def measure_open_speakers(
    audio: VirtualAudio,
    data_dir: Path,
    *,
    mode: EchoMode = "aec",
    level_db: float = -12,
    delay_ms: int = 40,
    answers: int = 3,
    barge_in_speech: Path | None = None,
    barge_ins: int = 0,
) -> OpenSpeakerFigures:
    """Open speakers at `level_db` / `delay_ms`: `answers` long answers nobody talks
    over, then `barge_ins` answers the user talks over (`barge_in_speech`, a WAV).
    In mode "off" an answer stops at its first self-interruption (they chain)."""
    results: list[AnswerResult] = []
    trials: list[BargeInResult] = []
    with echo_loopback(audio, level_db, delay_ms):
        async with open_echo_session(audio, data_dir, mode) as session:
            for _ in range(answers):
                results.append(await session.answer(stop_at_first_speech=mode == "off"))
                if mode == "off":
                    break
            if barge_in_speech is not None:
                for i in range(barge_ins):
                    trials.append(await session.barge_in(barge_in_speech, 1200 + 400 * (i % 4)))
            cpu = session.processor.stats.cpu_share if session.processor is not None else 0.0
    figures = [r.figures for r in results if r.figures is not None]
    firsts = [r.first_speech_ms for r in results if r.first_speech_ms is not None]
    return OpenSpeakerFigures(
        mode,
        level_db,
        delay_ms,
        len(results),
        sum(r.heard_ms for r in results) / 1000,
        sum(r.speech_started for r in results),
        [f.canceller_erle_db for f in figures],
        [f.sent_dbfs for f in figures],
        cpu,
        trials,
        min(firsts) if firsts else None,
    )
