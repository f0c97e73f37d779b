"""Soak (issue 6): 100 connect/disconnect cycles against the local server, with a
spoken exchange every tenth cycle; memory, threads, asyncio tasks and open files
before and after must not grow.

Each cycle is `engine.new_session()`: the connection is closed and a fresh one opened,
the session configured and the conversation so far replayed into it, as a reconnect
does. The headless runtime (engine, journal, real SDK) runs here; the server runs in
another process.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import psutil

from bench.context import Context
from bench.report import BenchResult, Target
from bench.world import bench_settings, runtime, server_process
from voice_tui.core.events import AppEvent, ResponseFinished

WARM_UP = 5


async def run(ctx: Context) -> list[BenchResult]:
    cycles = ctx.pick(100, 20)
    process = psutil.Process()
    exchanges = 0
    async with server_process(0.5) as url, runtime(bench_settings(url), audio=False) as rt:
        answered = asyncio.Event()

        def on_event(event: AppEvent) -> None:  # keeps nothing: not to skew the RSS
            if isinstance(event, ResponseFinished):
                answered.set()

        rt.engine.subscribe(on_event)
        await rt.engine.start()

        async def cycle(n: int) -> None:
            nonlocal exchanges
            await rt.engine.new_session()
            if n % 10 == 0:
                exchanges += 1
                answered.clear()
                await rt.engine.send_text(f"Exchange number {exchanges}.")
                await asyncio.wait_for(answered.wait(), 30)

        for n in range(WARM_UP):
            await cycle(n)
        before = _snapshot(process)
        for n in range(WARM_UP, WARM_UP + cycles):
            await cycle(n)
        after = _snapshot(process)
    result = BenchResult("soak", "Connect/disconnect soak")
    rss_growth = (after["rss"] - before["rss"]) / 2**20
    result.add(
        f"RSS growth over {cycles} cycles",
        rss_growth,
        "MB",
        Target("<", 5),
        note=f"{before['rss'] / 2**20:.1f} -> {after['rss'] / 2**20:.1f} MB",
        miss_note="Something is kept per connection.",
    )
    for key, label in (("threads", "threads"), ("tasks", "asyncio tasks"), ("fds", "open files")):
        result.add(
            f"{label} growth",
            after[key] - before[key],
            "",
            Target("<=", 0),
            note=f"{before[key]} -> {after[key]}",
            miss_note="Not released when a connection closes.",
        )
    result.details.update({"cycles": cycles, "exchanges": exchanges, "before": before})
    result.details["after"] = after
    return [result]


def _snapshot(process: psutil.Process) -> dict[str, int]:
    gc.collect()
    return {
        "rss": process.memory_info().rss,
        "threads": threading.active_count(),
        "tasks": len(asyncio.all_tasks()),
        "fds": process.num_fds(),
    }
