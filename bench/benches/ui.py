"""UI: the cost of one streamed transcript delta with 10, 1,000 and 10,000 turns
already in the transcript. It must not grow with the transcript.

The real app runs headless (Textual's run_test, so layout and compositing happen as on
a terminal, only the bytes go nowhere). Deltas go through the app's own path: an
`EngineEvent` message, as the engine listener posts it, into a streaming assistant turn.
The cost is the main thread's CPU time (time.thread_time: what the app did, not how
long it waited), net of an idle window of the same length, per delta. Each window
starts after a full garbage collection: the interpreter's periodic full collection costs
in proportion to everything alive and comes less often the more is alive (amortised, it
does not grow with the transcript), so whether one happens to land in a 60-delta window
would otherwise decide the figure.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from datetime import datetime

from textual.pilot import Pilot

from bench.context import Context
from bench.report import BenchResult, Target
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.events import AssistantDelta, AssistantFinal, AssistantTurnStarted
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.messages import EngineEvent
from voice_tui.ui.widgets.transcript import Transcript

SIZES = (10, 1_000, 10_000)
QUICK_SIZES = (10, 300, 1_000)
WINDOWS = 3  # measured turns per size (the median is reported)
GAP_S = 1 / 60  # deltas arrive apart: each one gets its own frame
CLOCK = datetime(2026, 1, 1, 12, 0, 0)
STARTED_AT = CLOCK.timestamp()


async def run(ctx: Context) -> list[BenchResult]:
    deltas = ctx.pick(60, 20)
    sizes = QUICK_SIZES if ctx.quick else SIZES
    settings = Settings()
    settings.audio.enabled = False
    app = VoiceApp(settings, connect=None, clock=lambda: CLOCK)
    costs: dict[int, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        transcript = app.transcript
        have = 0
        for size in sizes:
            await _fill(transcript, have, size)
            have = size
            await _settle(pilot)
            # Each window is one streamed turn; the median of a few steadies the figure
            # against other processes on a shared machine.
            windows = [await _delta_cost(pilot, f"{size}_{n}", deltas) for n in range(WINDOWS)]
            costs[size] = statistics.median(windows)
    result = BenchResult("ui", "UI cost per transcript delta")
    for size, cost in costs.items():
        result.add(f"per delta, {size:,} turns", cost * 1000, "ms")
    small, large = sizes[0], sizes[-1]
    growth = costs[large] / costs[small] if costs[small] > 0 else float("nan")
    result.add(
        f"growth {small:,} -> {large:,} turns",
        growth,
        "x",
        Target("<=", 1.2),
        note="per-delta cost ratio (flat within 20%)",
        miss_note=(
            "Per delta, only the streaming turn is laid out and the transcript holds a "
            "bounded number of widgets (older turns are drawn by one archive widget), so "
            "what remains is noise from other processes on the machine or a regression: "
            "profile the 10,000-turn case."
        ),
    )
    result.details.update({"deltas_per_window": deltas, "windows": WINDOWS, "gap_s": GAP_S})
    return [result]


async def _fill(transcript: Transcript, have: int, size: int) -> None:
    """Finished turns, through the transcript's own path for them (the one --resume
    uses): the newest get widgets, the rest go where the transcript keeps older turns."""
    turns: list[Turn] = []
    for n in range(have, size):
        if n % 2 == 0:
            text, role = f"Question number {n}: what is the weather like today?", Role.USER
        else:
            text = f"Answer number {n}: it is **sunny**, with a light breeze from the west."
            role = Role.ASSISTANT
        turns.append(Turn(item_id=f"item_{n}", role=role, text=text, started_at=STARTED_AT))
    await transcript.append_finished(turns)


async def _settle(pilot: Pilot[int]) -> None:
    # Not pilot.pause(): it messages every widget on screen, a cost of the harness that
    # grows with the transcript.
    await asyncio.sleep(0.1)
    await pilot.app.workers.wait_for_complete()
    await asyncio.sleep(0.1)


async def _delta_cost(pilot: Pilot[int], name: str, deltas: int) -> float:
    app = pilot.app
    item = f"item_live_{name}"
    app.post_message(EngineEvent(AssistantTurnStarted(item, f"resp_{name}", None)))
    for _ in range(5):  # warm up: the stream and its first paragraph exist
        app.post_message(EngineEvent(AssistantDelta(item, "warming up ")))
        await asyncio.sleep(GAP_S)
    await _settle(pilot)

    gc.collect()
    idle = time.thread_time()
    for _ in range(deltas):
        await asyncio.sleep(GAP_S)
    await _settle(pilot)
    idle = time.thread_time() - idle

    gc.collect()
    busy = time.thread_time()
    for k in range(deltas):
        app.post_message(EngineEvent(AssistantDelta(item, f"word{k} ")))
        await asyncio.sleep(GAP_S)
    await _settle(pilot)
    busy = time.thread_time() - busy
    # The turn ends, as turns do: the next size's turns come after a finished one.
    app.post_message(EngineEvent(AssistantFinal(item, "")))
    await _settle(pilot)
    return max(busy - idle, 0.0) / deltas
