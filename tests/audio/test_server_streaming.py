"""The local server's side of a continuous stream, through the real SDK over a socket:
small synthesiser chunks are merged only while the listener has audio in hand, and a
sentence boundary costs no synthesis start-up (the next sentence is synthesised while
the current one is sent). Synthesis is gated by the test, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from voice_tui.server.app import start_server
from voice_tui.server.components import (
    Components,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

CHUNK = 480  # bytes: 10 ms of 24 kHz pcm16
WAIT_S = 10.0  # a guard against hangs, not a measurement


class GatedSynthesizer:
    """Three 10 ms chunks per sentence; all but its first chunk wait for a
    permit. Records the order of what happened on its side."""

    name = "gated"

    def __init__(self) -> None:
        self.permits = threading.Semaphore(0)
        self.log: list[str] = []

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        self.log.append(f"start {text}")
        for n in range(3):
            if n:
                self.permits.acquire()
            yield bytes([1 if text.startswith("First") else 2]) * CHUNK
        self.log.append(f"done {text}")


class TwoSentences:
    name = "two-sentences"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        yield TextPiece("First one. Second one.")


class Deltas:
    """output_audio.delta events as they arrive, and the transcript deltas."""

    def __init__(self) -> None:
        self.audio: list[bytes] = []
        self.transcript: list[str] = []
        self.done = False
        self.changed = asyncio.Event()

    async def pump(self, conn: Any) -> None:
        while not self.done:
            event = json.loads(await conn.recv_bytes())
            if event["type"] == "response.output_audio.delta":
                self.audio.append(base64.b64decode(event["delta"]))
            elif event["type"] == "response.output_audio_transcript.delta":
                self.transcript.append(event["delta"])
            elif event["type"] == "response.done":
                self.done = True
            self.changed.set()

    async def until(self, test: Any, limit_s: float = WAIT_S) -> None:
        async with asyncio.timeout(limit_s):
            while not test():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def streaming() -> AsyncIterator[tuple[GatedSynthesizer, Deltas]]:
    synthesizer = GatedSynthesizer()
    server = await start_server(components=Components(None, synthesizer, TwoSentences()))
    deltas = Deltas()
    try:
        sdk = AsyncOpenAI(api_key="unused", base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as conn:
            await conn.recv_bytes()  # session.created
            await conn.send_raw(json.dumps({"type": "response.create"}))
            pump = asyncio.create_task(deltas.pump(conn))
            try:
                yield synthesizer, deltas
            finally:
                for _ in range(10):
                    synthesizer.permits.release()  # let any waiting synthesis end
                pump.cancel()
    finally:
        await server.close()


async def test_a_chunk_the_listener_needs_is_sent_alone_not_held_for_merging(
    streaming: tuple[GatedSynthesizer, Deltas],
) -> None:
    synthesizer, deltas = streaming
    await deltas.until(lambda: len(deltas.audio) == 1)  # the first audio, at once
    await asyncio.sleep(0.05)  # longer than the 10 ms sent: the listener has run short
    synthesizer.permits.release()  # one more chunk; the next one stays blocked
    # Held back for merging it would wait for the blocked chunk indefinitely; a second
    # is far beyond any wait the 10 ms sent could justify.
    await deltas.until(lambda: len(deltas.audio) == 2, limit_s=1.0)
    assert [len(d) for d in deltas.audio] == [CHUNK, CHUNK]  # sent alone, not held back


async def test_sentences_are_synthesised_one_at_a_time_and_sent_whole_in_order(
    streaming: tuple[GatedSynthesizer, Deltas],
) -> None:
    synthesizer, deltas = streaming
    await deltas.until(lambda: len(deltas.audio) == 1)
    for _ in range(4):
        synthesizer.permits.release()
    await deltas.until(lambda: deltas.done)
    assert synthesizer.log == [
        "start First one.",
        "done First one.",
        "start Second one.",
        "done Second one.",
    ]  # the synthesiser's contract: one sentence at a time
    first, second = bytes([1]) * CHUNK, bytes([2]) * CHUNK  # each sentence's own bytes
    assert b"".join(deltas.audio) == first * 3 + second * 3
    assert deltas.transcript == ["First one. ", "Second one."]
