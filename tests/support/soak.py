"""Soak: a long conversation at accelerated speed and many connect/disconnect cycles
against the built-in server, through the real SDK, measuring threads, asyncio tasks,
memory and the engine's own bookkeeping before and after.

Run it from tests (modest sizes) or benchmarks (`await run_soak(turns=1000, cycles=100)`).
The server uses small deterministic components (an echoing responder, a short tone as
speech) so the figures are about the client path, not about speech models.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_tui.config.schema import Persona, Settings
from voice_tui.core.conversation import Role
from voice_tui.core.events import AppEvent, TurnCompleted

if TYPE_CHECKING:
    from voice_tui.core.engine import ConversationEngine
    from voice_tui.server.components import Components, ResponderPiece, ResponderRequest

SAMPLE_RATE = 24_000
API_KEY = "sk-soak-0123456789abcdef"
MODEL = "gpt-realtime"
TURN_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SoakReport:
    turns: int
    cycles: int
    seconds: float
    threads_before: int  # not counting the event loop's (bounded) executor pool
    threads_after: int
    tasks_before: int
    tasks_after: int
    rss_before_mb: float  # after warm-up
    rss_after_conversation_mb: float
    rss_after_cycles_mb: float
    engine_entries_after_turns: int  # the engine's per-response bookkeeping, all maps
    engine_entries_max: int  # the most seen at any turn boundary
    heap_growth_kb: float  # Python allocations still alive after the cycles (tracemalloc)

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_after_cycles_mb - self.rss_before_mb

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rss_growth_mb": round(self.rss_growth_mb, 3)}


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; 0.0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1_048_576


class _Echo:
    name = "soak-echo"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        from voice_tui.server.components import TextPiece

        last = request.history[-1].content if request.history else ""
        yield TextPiece(f"You said: {last}")


class _Beep:
    """40 ms of tone per reply: real audio deltas, cheap to make."""

    name = "soak-beep"

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        n = SAMPLE_RATE // 25
        samples = (int(8000 * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE)) for i in range(n))
        yield b"".join(s.to_bytes(2, "little", signed=True) for s in samples)


def soak_components() -> Components:
    from voice_tui.server.components import Components

    return Components(recognizer=None, synthesizer=_Beep(), responder=_Echo())


def _settings(base_url: str, data_dir: Path) -> Settings:
    persona = Persona(name="Soak", instructions="Answer briefly.", tools=[])
    return Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": base_url},
            "session": {"persona": "Soak", "transcription_model": ""},
            "journal": {"enabled": False},
            "tools": {"data_dir": str(data_dir)},
            "personas": [persona.model_dump()],
        }
    )


class _Answers:
    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def __call__(self, event: AppEvent) -> None:
        if isinstance(event, TurnCompleted) and event.turn.role is Role.ASSISTANT:
            self.count += 1
            self.changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(TURN_TIMEOUT_S):
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()


def _engine_entries(engine: ConversationEngine) -> int:
    """The size of the engine's per-response and per-item records (must stay bounded)."""
    return engine.bookkeeping


def _settle() -> tuple[int, int]:
    """Threads (not counting the loop's executor pool, which is reused and bounded)
    and asyncio tasks still alive."""
    gc.collect()
    threads = [t for t in threading.enumerate() if not t.name.startswith("asyncio_")]
    return len(threads), len(asyncio.all_tasks())


async def run_soak(turns: int = 200, cycles: int = 100, data_dir: Path | None = None) -> SoakReport:
    """A `turns`-long typed conversation, then `cycles` connect/exchange/close cycles."""
    import tempfile

    from voice_tui.backends.openai import OpenAIBackend
    from voice_tui.core.engine import ConversationEngine
    from voice_tui.core.tools import build_registry
    from voice_tui.server.app import start_server

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_server(components=soak_components(), api_key=API_KEY)
        settings = _settings(server.base_url, data_dir or Path(tmp))
        registry = build_registry(settings)

        async def one_engine(exchanges: int, *, warm_up: int = 0) -> tuple[int, int, float]:
            backend = OpenAIBackend(settings)
            engine = ConversationEngine(settings, backend, registry)
            answers = _Answers()
            engine.subscribe(answers)
            most = 0
            rss_warm = 0.0
            try:
                await engine.start()
                for i in range(exchanges):
                    await engine.send_text(f"message number {i}")
                    await answers.wait_for(i + 1)
                    most = max(most, _engine_entries(engine))
                    if i + 1 == warm_up:
                        rss_warm = rss_mb()
                return _engine_entries(engine), most, rss_warm
            finally:
                await engine.close()
                await backend.aclose()

        try:
            # Warm-up: imports, SDK client, first connections, allocator pools.
            for _ in range(10):
                await one_engine(1)
            threads_before, tasks_before = _settle()
            entries, most, rss_before = await one_engine(turns, warm_up=min(10, turns))
            rss_after_conversation = rss_mb()
            _settle()
            tracemalloc.start()
            heap_before = tracemalloc.get_traced_memory()[0]
            for _ in range(cycles):
                await one_engine(1)
            threads_after, tasks_after = _settle()
            heap_growth = tracemalloc.get_traced_memory()[0] - heap_before
            tracemalloc.stop()
            rss_after_cycles = rss_mb()
        finally:
            await server.close()
    return SoakReport(
        turns=turns,
        cycles=cycles,
        seconds=round(time.perf_counter() - started, 2),
        threads_before=threads_before,
        threads_after=threads_after,
        tasks_before=tasks_before,
        tasks_after=tasks_after,
        rss_before_mb=round(rss_before, 2),
        rss_after_conversation_mb=round(rss_after_conversation, 2),
        rss_after_cycles_mb=round(rss_after_cycles, 2),
        engine_entries_after_turns=entries,
        engine_entries_max=most,
        heap_growth_kb=round(heap_growth / 1024, 1),
    )
