"""The model the benchmarks talk to: components for the project's local server.

They stand in for a cloud model, deterministically and cheaply, so the figures measure
voice-tui, not a recogniser or a synthesiser: a recogniser that hears "tell me more"
in any audio, a responder that answers with a fixed text, and a tone voice whose length
follows the text (MS_PER_CHAR). With `paced`, the voice streams in real time, one
CHUNK_MS piece per CHUNK_MS, as a live model does while it speaks; unpaced, it streams
as fast as the socket takes it (an accelerated conversation).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np

from voice_tui.server.components import (
    SAMPLE_RATE,
    Components,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

MS_PER_CHAR = 60
CHUNK_MS = 40
TONE_HZ = 300.0
TONE_AMPLITUDE = 8000.0


class _Heard:
    def __init__(self) -> None:
        self.samples = 0

    def feed(self, pcm: bytes) -> str | None:
        self.samples += len(pcm) // 2
        return None

    def finish(self) -> str:
        return "tell me more" if self.samples else ""


class AnyRecognizer:
    name = "bench-any"

    def start(self, language: str | None = None, prompt: str | None = None) -> _Heard:
        return _Heard()


class FixedAnswer:
    """Answers every turn with `text` (its length sets the answer's duration)."""

    name = "bench-fixed"

    def __init__(self, text: str) -> None:
        self.text = text

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        yield TextPiece(self.text)


class ToneVoice:
    name = "bench-tone"

    def __init__(self, paced: bool) -> None:
        self.paced = paced

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        n = SAMPLE_RATE * MS_PER_CHAR * len(text) // 1000
        wave = TONE_AMPLITUDE * np.sin(2 * math.pi * TONE_HZ * np.arange(n) / SAMPLE_RATE)
        pcm = wave.astype("<i2").tobytes()
        step = SAMPLE_RATE * 2 * CHUNK_MS // 1000
        start = time.perf_counter()
        for k, i in enumerate(range(0, len(pcm), step)):
            if self.paced:  # against a deadline, so pacing does not drift
                delay = start + k * CHUNK_MS / 1000 - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            yield pcm[i : i + step]


def answer_text(seconds: float) -> str:
    """A reply whose tone lasts about `seconds`, in sentences (the server speaks each
    sentence as it completes)."""
    sentence = "This answer is spoken by the benchmark. "
    count = max(1, round(seconds * 1000 / MS_PER_CHAR / len(sentence)))
    return (sentence * count).strip()


def bench_components(answer_s: float, paced: bool) -> Components:
    return Components(AnyRecognizer(), ToneVoice(paced), FixedAnswer(answer_text(answer_s)))
