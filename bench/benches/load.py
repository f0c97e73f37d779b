"""Under load (issue 17): two busy processes compete for the cores while the open-speaker
scenario (self-interruptions, residual echo passed, barge-in over the echo) and the
real-time stream of answers (gaps) run. The same figures as the `echo` and
`wire_to_speaker` benches, which give them without load; on a 2-core machine the hogs
take every core the client does not win from the scheduler."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

from bench.benches import echo, latency
from bench.context import Context
from bench.report import BenchResult, Metric

HOGS = 2
KEEP = ("self-interruptions", "residual-echo", "barge-in", "underruns", "device underflows")


@contextlib.contextmanager
def cpu_hogs(count: int = HOGS) -> Iterator[None]:
    """`count` processes spinning in Python for the duration (ended by their handles)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


async def run(ctx: Context) -> list[BenchResult]:
    result = BenchResult("load", f"Under load: {HOGS} busy processes")
    with cpu_hogs():
        parts = await echo.run(replace(ctx, names=("echo",)))
        parts += await latency.run(replace(ctx, names=("wire_to_speaker",)))
    for part in parts:
        for m in part.metrics:
            if any(word in m.name for word in KEEP):
                result.metrics.append(
                    Metric(f"{m.name} (loaded)", m.value, m.unit, m.target, m.note)
                )
    result.details["hogs"] = HOGS
    return [result]
