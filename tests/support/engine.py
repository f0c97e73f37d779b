"""Test-only helpers for the engine tests.

The world they run in: the project's own Realtime server on 127.0.0.1, reached by the
real openai SDK over a real WebSocket, with deterministic test Components. The test
recogniser really listens: it finds the dominant frequency of the audio it was sent and
maps it to a phrase, so a transcript only comes out right when the audio arrived
intact. The test synthesiser speaks a tone whose length follows the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.support.tones import ToneRecognizer, ToneSynthesizer
from tests.support.tones import tone as tone  # re-exported: the engine tests speak with it
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import Persona, Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent, AudioChunk
from voice_tui.core.ports import HeardAudio, PlaybackSink
from voice_tui.core.reliability import ReconnectPolicy
from voice_tui.core.tools import Tool, ToolContext, ToolRegistry, build_registry
from voice_tui.server.components import (
    SAMPLE_RATE,
    ChatMessage,
    Components,
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

API_KEY = "sk-test-0123456789abcdef"
MODEL = "gpt-realtime-2.1"

# What the test recogniser "hears" for each tone.
PHRASES = {
    440.0: "what time is it",
    550.0: "please use the broken tool",
    660.0: "hello there",
    770.0: "try the slow tool",
    880.0: "goodbye",
}
MS_PER_CHAR = 25  # synthesised speech length


def silence(ms: int) -> bytes:
    return b"\x00\x00" * (SAMPLE_RATE * ms // 1000)


def phrase_tone(phrase: str) -> float:
    return next(f for f, p in PHRASES.items() if p == phrase)


class RuleResponder:
    """Answers by keyword, calling tools the way a model would."""

    name = "test-rules"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        if not request.history:  # the assistant speaks first
            yield TextPiece("Hello, this is the test assistant calling.")
            return
        last: ChatMessage = request.history[-1]
        if last.role == "tool":
            answered = len(request.history) - next(
                i + 1
                for i in reversed(range(len(request.history)))
                if request.history[i].role != "tool"
            )
            if answered > 1:
                yield TextPiece(f"All {answered} tools answered.")
            elif '"error"' in last.content:
                yield TextPiece("Sorry, that did not work.")
            elif "goodbye" in last.content or "ended" in last.content:
                yield TextPiece("Goodbye, partner!")
            else:
                yield TextPiece(f"The tool says {last.content[:40]}")
            return
        text = last.content.lower()
        if "both" in text:  # two calls in one response, as a parallel-tool model makes
            yield TextPiece("Checking both.")
            yield FunctionCallPiece("get_current_time", "{}", "call_" + uuid.uuid4().hex[:12])
            yield FunctionCallPiece("gated_tool", "{}", "call_" + uuid.uuid4().hex[:12])
            return
        call: tuple[str, str] | None = None
        if "time" in text and "slow" not in text:
            call = ("get_current_time", "{}")
        elif "broken" in text:
            call = ("broken_tool", "{}")
        elif "slow" in text:
            call = ("slow_tool", "{}")
        elif "goodbye" in text:
            call = ("end_conversation", '{"reason": "the caller said goodbye"}')
        if call is not None:
            yield FunctionCallPiece(call[0], call[1], "call_" + uuid.uuid4().hex[:12])
            return
        yield TextPiece(f"You said: {last.content}.")


def tone_components() -> Components:
    return Components(
        ToneRecognizer("test-tones", PHRASES, min_ms=50, min_peak=500),
        ToneSynthesizer("test-tone-voice", MS_PER_CHAR),
        RuleResponder(),
    )


# --------------------------------------------------------------------------- tools


async def _broken(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    raise RuntimeError("the widget is on fire")


async def _slow(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    await asyncio.sleep(30)
    return {"done": True}


EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def make_registry(settings: Settings) -> ToolRegistry:
    registry = build_registry(settings)
    registry.register(Tool("broken_tool", "Always fails.", EMPTY_SCHEMA, _broken))
    registry.register(Tool("slow_tool", "Never finishes in time.", EMPTY_SCHEMA, _slow))
    return registry


TEST_PERSONA = Persona(
    name="Tester",
    instructions="You are a test assistant.",
    tools=["get_current_time", "end_conversation", "broken_tool", "slow_tool"],
)
PIRATE = Persona(name="Pirate", instructions="Talk like a pirate.", voice="ash", tools=[])


def engine_settings(base_url: str, tmp_path: Path) -> Settings:
    """Settings that point the real SDK at a local test server."""
    return Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": base_url},
            "session": {"persona": "Tester", "tool_timeout_s": 1.0, "silence_duration_ms": 300},
            "tools": {"data_dir": str(tmp_path / "tools")},
            "personas": [TEST_PERSONA.model_dump(), PIRATE.model_dump()],
        }
    )


# --------------------------------------------------------------------------- engines

EngineFactory = Callable[..., Awaitable[tuple[ConversationEngine, "Recorder"]]]


@contextlib.asynccontextmanager
async def engine_factory(
    default_settings: Settings, *, default_policy: ReconnectPolicy | None = None
) -> AsyncIterator[EngineFactory]:
    """Makes engines on the real SDK, each with a Recorder subscribed (started unless
    told), and closes them all at the end."""
    made: list[tuple[ConversationEngine, OpenAIBackend]] = []

    async def factory(
        settings: Settings = default_settings,
        playback: PlaybackSink | None = None,
        start: bool = True,
        *,
        policy: ReconnectPolicy | None = default_policy,
    ) -> tuple[ConversationEngine, Recorder]:
        backend = OpenAIBackend(settings)
        engine = ConversationEngine(
            settings, backend, make_registry(settings), playback, policy=policy
        )
        recorder = Recorder()
        engine.subscribe(recorder)
        made.append((engine, backend))
        if start:
            await engine.start()
        return engine, recorder

    try:
        yield factory
    finally:
        for engine, backend in made:
            await engine.close()
            await backend.aclose()


# --------------------------------------------------------------------------- events

E = TypeVar("E")


@dataclass
class Recorder:
    """Collects engine events and lets a test wait for one."""

    events: list[AppEvent] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: AppEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self,
        kind: type[E],
        where: Callable[[E], bool] = lambda e: True,
        *,
        after: int = 0,
        within_s: float = 30.0,  # only a guard against a hang, never a timing check
    ) -> E:
        async def scan() -> E:
            seen = after
            while True:
                for event in self.events[seen:]:
                    if isinstance(event, kind) and where(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within_s)


class ScriptedPlayback(PlaybackSink):
    """A playback port whose listener is the test: it 'plays' what it is given and
    reports as heard whatever the test says was heard."""

    def __init__(self) -> None:
        self.chunks: list[AudioChunk] = []
        self.playing = False
        self.heard_ms: int | None = None  # None: everything received was heard
        self.finished = False
        self.interrupts = 0
        self.ended: list[str] = []  # items the engine said are complete

    def play(self, chunk: AudioChunk) -> None:
        self.chunks.append(chunk)
        self.playing = True

    def end_item(self, item_id: str) -> None:
        self.ended.append(item_id)

    def received_ms(self, item_id: str) -> int:
        return sum(len(c.pcm) for c in self.chunks if c.item_id == item_id) // 48

    def interrupt(self) -> HeardAudio | None:
        self.interrupts += 1
        if not self.playing or not self.chunks:
            return None
        self.playing = False
        last = self.chunks[-1]
        received = self.received_ms(last.item_id)
        heard = received if self.heard_ms is None else self.heard_ms
        return HeardAudio(last.item_id, last.content_index, heard, received, self.finished)

    def heard(self, item_id: str) -> int:
        return self.received_ms(item_id) if self.heard_ms is None else self.heard_ms

    def is_playing(self) -> bool:
        return self.playing


async def speak(engine: ConversationEngine, pcm: bytes, *, chunk_ms: int = 20) -> None:
    """Send audio as a microphone would, in 20 ms chunks, faster than real time."""
    step = SAMPLE_RATE * 2 * chunk_ms // 1000
    for i in range(0, len(pcm), step):
        engine.send_audio(pcm[i : i + step])
        if i % (step * 10) == 0:
            await asyncio.sleep(0)
