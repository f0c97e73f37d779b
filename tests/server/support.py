"""Deterministic components, an SDK client wrapper and audio signals for server tests.

The components are small but real: the synthesiser produces an actual tone whose
length is proportional to the text, the recogniser reveals a fixed transcript as audio
arrives, the responder follows a script keyed on what the user said. The server, the
WebSocket and the openai SDK are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import subprocess
import threading
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from voice_tui.server.app import LocalServer
from voice_tui.server.components import (
    SAMPLE_RATE,
    Components,
    FunctionCallPiece,
    ResponderError,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
MS_PER_CHAR = 40  # the tone synthesiser speaks 40 ms of audio per character
API_KEY = "sk-test-local-0123456789"
TOOLS = [
    {
        "type": "function",
        "name": "get_current_time",
        "description": "The current time",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
    }
]


class ToneSynthesizer:
    """A 220 Hz tone, MS_PER_CHAR per character, streamed in 100 ms chunks.

    With `chunk_permits` set, every chunk after the first waits for a permit (a slow
    synthesiser); `aborted` counts generators closed before they finished.
    """

    name = "tone"

    def __init__(self) -> None:
        self.spoken: list[str] = []
        self.chunk_permits: threading.Semaphore | None = None
        self.aborted = 0
        self.streams: list[Iterator[bytes]] = []

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        # Kept referenced, so only an explicit close(), not garbage collection, stops one.
        stream = self._synthesize(text, speed)
        self.streams.append(stream)
        return stream

    def _synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        self.spoken.append(text)
        samples = int(len(text) * MS_PER_CHAR * SAMPLE_RATE / 1000 / speed)
        t = np.arange(samples) / SAMPLE_RATE
        pcm = (np.sin(2 * math.pi * 220 * t) * 8000).astype("<i2").tobytes()
        try:
            for start in range(0, len(pcm), 4800):
                if start and self.chunk_permits is not None:
                    self.chunk_permits.acquire()
                yield pcm[start : start + 4800]
        except GeneratorExit:
            self.aborted += 1
            raise


@dataclass
class _ScriptedStream:
    words: list[str]
    fed: int = 0

    def feed(self, pcm: bytes) -> str | None:
        before = self._visible()
        self.fed += len(pcm)
        after = self._visible()
        return after if after != before else None

    def _visible(self) -> str:
        count = min(len(self.words), self.fed // 9600)  # a word per 200 ms heard
        return " ".join(self.words[:count])

    def finish(self) -> str:
        return " ".join(self.words) if self.fed else ""


class FixedRecognizer:
    """Hears `transcript` in any utterance of audio."""

    name = "fixed"

    def __init__(self, transcript: str = "what time is it") -> None:
        self.transcript = transcript
        self.streams: list[_ScriptedStream] = []

    def start(self, language: str | None = None, prompt: str | None = None) -> _ScriptedStream:
        stream = _ScriptedStream(self.transcript.split())
        self.streams.append(stream)
        return stream


class Permits(asyncio.Semaphore):
    def grant(self, count: int) -> None:
        for _ in range(count):
            self.release()


@dataclass
class ScriptedResponder:
    """Replies by rule: asks for the time via a tool, reads tool output back, echoes.

    A user message containing "fail" raises ResponderError; "long" gets many sentences.
    """

    name: str = "scripted"
    requests: list[ResponderRequest] = field(default_factory=list)
    # When set, each sentence of a "long" reply waits for a permit (to test cancel).
    gate: Permits | None = None
    aborted: int = 0  # long replies closed before their end
    streams: list[AsyncIterator[ResponderPiece]] = field(default_factory=list)

    def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        # Kept referenced (like a stream held by an HTTP client), so only an explicit
        # aclose(), not garbage collection, ends one early.
        stream = self._respond(request)
        self.streams.append(stream)
        return stream

    async def _respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        self.requests.append(request)
        last = request.history[-1] if request.history else None
        if last is not None and last.role == "tool":
            yield TextPiece(f"The tool says {last.content}. ")
            yield TextPiece("Anything else?")
            return
        said = last.content if last is not None else ""
        if "fail" in said:
            yield TextPiece("Let me check. ")
            raise ResponderError("connection refused by 127.0.0.1:9")
        if "time" in said and request.tools:
            yield FunctionCallPiece("get_current_time", '{"timezone": "UTC"}', "call_time_1")
            return
        if "long" in said:
            try:
                for n in range(1, 9):
                    if self.gate is not None:
                        await self.gate.acquire()
                    yield TextPiece(f"This is sentence number {n} of a long answer. ")
            except GeneratorExit:
                self.aborted += 1
                raise
            return
        yield TextPiece(f"You said: {said}. ")
        yield TextPiece("That is all.")


def make_components(recognizer: bool = True, synthesizer: bool = True) -> Components:
    return Components(
        recognizer=FixedRecognizer() if recognizer else None,
        synthesizer=ToneSynthesizer() if synthesizer else None,
        responder=ScriptedResponder(),
    )


class Client:
    """A real SDK connection plus the list of every server event, each validated."""

    def __init__(self, connection: AsyncRealtimeConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send_raw(json.dumps(event))

    async def recv(self, wait_s: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv_bytes(), wait_s)
        SERVER_EVENT.validate_json(raw)  # every event the server emits must be valid
        event: dict[str, Any] = json.loads(raw)
        self.events.append(event)
        return event

    async def until(self, type_: str, wait_s: float = 10.0) -> dict[str, Any]:
        """Receive until an event of `type_`; returns it (earlier ones stay in .events)."""
        while True:
            event = await self.recv(wait_s)
            if event["type"] == type_:
                return event

    async def collect_until(self, type_: str, wait_s: float = 10.0) -> list[dict[str, Any]]:
        start = len(self.events)
        await self.until(type_, wait_s)
        return self.events[start:]

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    async def add_user_text(self, text: str) -> None:
        """A typed user message: conversation.item.create."""
        await self.send(user_text_item(text))

    async def say(self, text: str) -> None:
        """A typed user message, once the server has added it."""
        await self.add_user_text(text)
        await self.until("conversation.item.done")

    async def ask(self, text: str = "hello") -> None:
        """A typed user message and response.create."""
        await self.add_user_text(text)
        await self.send({"type": "response.create"})


def user_text_item(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@contextlib.asynccontextmanager
async def open_client(server: LocalServer) -> AsyncIterator[Client]:
    """A real SDK connection to `server`, its session.created already received."""
    sdk = AsyncOpenAI(api_key="x", base_url=server.base_url)
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        client = Client(conn)
        await client.until("session.created")
        yield client


def azure_client(server: LocalServer, api_key: Any = API_KEY) -> AsyncOpenAI:
    """Azure's GA client: the plain SDK client on `<endpoint>/openai/v1` (key or token
    provider as Bearer), as Microsoft's current samples build it."""
    return AsyncOpenAI(api_key=api_key, base_url=f"{server.azure_endpoint}/openai/v1")


def azure_preview_client(server: LocalServer, api_version: str = "2025-08-28") -> Any:
    """What voice-tui used to build: the retired preview route (`/openai/realtime?
    api-version=...&deployment=...`)."""
    return AsyncAzureOpenAI(
        api_key=API_KEY,
        api_version=api_version,
        azure_endpoint=server.azure_endpoint,
        websocket_base_url=server.azure_endpoint.replace("http://", "ws://") + "/openai",
    )


# ---- audio signals --------------------------------------------------------------


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


def voiced(ms: int, level: float = 0.3, seed: int = 1) -> bytes:
    """A voiced-speech-like signal: harmonics of 140 Hz with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(ms * SAMPLE_RATE // 1000) / SAMPLE_RATE
    wave_ = sum(np.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 6))
    wave_ = wave_ / np.max(np.abs(wave_)) * level + rng.normal(0, 0.01, t.size)
    pcm: bytes = (np.clip(wave_, -1, 1) * 32767).astype("<i2").tobytes()
    return pcm


def espeak_pcm(text: str, tmp_path: Path) -> bytes:
    """Real synthesised speech from the espeak-ng program, resampled to 24 kHz."""
    import soxr

    out = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), text], check=True)
    with wave.open(str(out)) as wav:
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    resampled = soxr.resample(data.astype(np.float32) / 32768, rate, SAMPLE_RATE)
    pcm: bytes = (np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes()
    return pcm


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


async def stream_audio(client: Client, pcm: bytes, chunk_ms: int = 20) -> None:
    step = chunk_ms * 48
    for start in range(0, len(pcm), step):
        chunk = pcm[start : start + step]
        await client.send({"type": "input_audio_buffer.append", "audio": b64(chunk)})


def hold_replies(server: LocalServer) -> Permits:
    """Make the scripted responder wait for a permit before each sentence of a long reply."""
    responder = server.components.responder
    assert isinstance(responder, ScriptedResponder)
    permits = Permits(0)
    responder.gate = permits
    return permits
