"""The built-in offline engine (issue 5): recognition and synthesis real-time factors,
word error rate over the test phrases (tests/support/phrases.py), and the time from the
end of the user's speech to the first assistant audio with the built-in responder.

For the last one, the offline server runs in a process of its own and voice-tui's
runtime (headless) streams a synthesised question to it in real time, 20 ms per 20 ms,
as a microphone would, then silence until the answer comes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bench.context import Context
from bench.probes import WireTap
from bench.report import BenchResult, Target
from bench.world import Events, bench_settings, runtime, server_process
from tests.support.phrases import PHRASES, TEST_SPEED, TEST_VOICE, word_error_rate
from voice_tui.core.events import AudioChunk
from voice_tui.offline.asr import PocketsphinxRecognizer
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.server.components import SAMPLE_RATE

BLOCK_BYTES = SAMPLE_RATE * 20 // 1000 * 2  # 20 ms, as a microphone delivers it
PAUSE = b"\0" * (SAMPLE_RATE * 2 * 3 // 10)  # 300 ms around each utterance
SILENCE = b"\0" * BLOCK_BYTES
ANSWER_WAIT_S = 15.0
REPLY_VOICE = "marin"  # the default persona's voice
TURN_QUESTIONS = ("What time is it?", "Tell me a joke.", "Good morning.", "Can you hear me?")


async def run(ctx: Context) -> list[BenchResult]:
    result = BenchResult("offline", "Offline engine")
    phrases = PHRASES[: ctx.pick(len(PHRASES), 5)]
    synth = EspeakSynthesizer()
    recognizer = PocketsphinxRecognizer()

    tts_s = tts_audio = 0.0
    spoken: list[bytes] = []
    for text in phrases:
        t0 = time.perf_counter()
        pcm = b"".join(synth.synthesize(text, REPLY_VOICE, 1.0))
        tts_s += time.perf_counter() - t0
        tts_audio += len(pcm) / 2 / SAMPLE_RATE
        spoken.append(PAUSE + b"".join(synth.synthesize(text, TEST_VOICE, TEST_SPEED)) + PAUSE)

    asr_s = asr_audio = 0.0
    pairs = []
    for text, pcm in zip(phrases, spoken, strict=True):
        t0 = time.perf_counter()
        stream = recognizer.start()
        for i in range(0, len(pcm), BLOCK_BYTES):
            stream.feed(pcm[i : i + BLOCK_BYTES])
        heard = stream.finish()
        asr_s += time.perf_counter() - t0
        asr_audio += len(pcm) / 2 / SAMPLE_RATE
        pairs.append((text, heard))
    result.add(
        "recognition real-time factor",
        asr_s / asr_audio,
        "",
        Target("<", 1.0),
        note="processing time / audio time (pocketsphinx, 20 ms blocks)",
        miss_note="Recognition is slower than speech on this machine.",
    )
    result.add(
        "synthesis real-time factor",
        tts_s / tts_audio,
        "",
        Target("<", 1.0),
        note=f"processing time / audio time (espeak-ng, voice {REPLY_VOICE})",
        miss_note="Synthesis is slower than speech on this machine.",
    )
    result.add(
        "word error rate",
        word_error_rate(pairs),
        "",
        note=f"{len(pairs)} phrases, espeak-ng {TEST_VOICE} into pocketsphinx",
    )
    result.details["transcripts"] = [{"said": s, "heard": h} for s, h in pairs]

    questions = TURN_QUESTIONS[: ctx.pick(len(TURN_QUESTIONS), 1)]
    replies, server_ms, silence_ms, unanswered = await _turns(synth, questions)
    result.add_distribution(
        "end of speech to first audio",
        replies,
        "ms",
        note=f"built-in responder; includes the VAD's {silence_ms} ms silence wait "
        "(and a tool round trip for the time)",
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
    synth: EspeakSynthesizer, questions: tuple[str, ...]
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
                speech = b"".join(synth.synthesize(text, TEST_VOICE, TEST_SPEED))
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
