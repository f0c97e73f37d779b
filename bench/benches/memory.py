"""Memory: RSS after a simulated minute and after a simulated hour of conversation.

An hour of conversation is played at accelerated speed: TURNS_PER_HOUR push-to-talk
turns, each with USER_S seconds of microphone audio sent through the engine and an
answer of ANSWER_S seconds of assistant audio received, transcribed and journaled.
The headless runtime (engine, journal, real SDK connection) runs here, the server in
another process. The transcript widgets' own growth is the UI benchmark's business.
"""

from __future__ import annotations

import asyncio
import gc

import numpy as np
import psutil

from bench.context import Context
from bench.report import BenchResult, Target
from bench.world import bench_settings, runtime, server_process
from voice_tui.core.events import AppEvent, ResponseFinished

USER_S = 10.0
ANSWER_S = 10.0
TURNS_PER_HOUR = round(3600 / (USER_S + ANSWER_S))
TURNS_PER_MINUTE = max(1, TURNS_PER_HOUR // 60)
BLOCK_BYTES = 24_000 * 2 * 20 // 1000


async def run(ctx: Context) -> list[BenchResult]:
    turns = ctx.pick(TURNS_PER_HOUR, TURNS_PER_HOUR // 6)
    minutes = turns * (USER_S + ANSWER_S) / 60
    process = psutil.Process()
    speech = _noise(USER_S)
    rss: dict[str, float] = {}
    async with server_process(ANSWER_S) as url:
        loaded = bench_settings(url, session={"turn_detection": "push_to_talk"})
        async with runtime(loaded, audio=False) as rt:
            done = asyncio.Event()

            def on_event(event: AppEvent) -> None:  # keeps nothing: not to skew the RSS
                if isinstance(event, ResponseFinished):
                    done.set()

            rt.engine.subscribe(on_event)
            await rt.engine.start()
            for n in range(1, turns + 1):
                done.clear()
                await rt.engine.start_talking()
                for i in range(0, len(speech), BLOCK_BYTES):
                    rt.engine.send_audio(speech[i : i + BLOCK_BYTES])
                await rt.engine.stop_talking()
                await asyncio.wait_for(done.wait(), 60)
                if n == TURNS_PER_MINUTE:
                    rss["minute"] = _rss_mb(process)
            rss["end"] = _rss_mb(process)
            remembered = len(rt.engine.conversation)
    result = BenchResult("memory", "Memory over a simulated hour")
    result.add("RSS after 1 simulated minute", rss["minute"], "MB")
    result.add(f"RSS after {minutes:.0f} simulated minutes", rss["end"], "MB")
    result.add(
        "growth",
        rss["end"] - rss["minute"],
        "MB",
        Target("<", 20),
        note=f"{turns} turns, {turns * (USER_S + ANSWER_S) / 60:.0f} min of audio both ways",
        miss_note="Memory grows with the conversation beyond its text.",
    )
    result.details.update({"turns": turns, "turns_remembered": remembered})
    return [result]


def _noise(seconds: float) -> bytes:
    """Speech-loud noise: the server's recogniser hears something in it."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3000, int(24_000 * seconds)).clip(-32768, 32767)
    return x.astype("<i2").tobytes()


def _rss_mb(process: psutil.Process) -> float:
    gc.collect()
    return float(process.memory_info().rss) / 2**20
