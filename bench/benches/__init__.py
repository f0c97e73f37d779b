"""The benchmarks, by name. Each module has `async def run(ctx: Context) ->
list[BenchResult]` (one result per name in `ctx.names`); it runs in a process of its
own (bench.child), once for all the names it serves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchInfo:
    name: str
    module: str
    title: str
    needs_audio: bool
    timeout_s: float  # a guard against hangs (full run); the quick run gets a third


BENCHES: tuple[BenchInfo, ...] = (
    BenchInfo("mic_to_wire", "bench.benches.latency", "Microphone to wire", True, 180),
    BenchInfo("wire_to_speaker", "bench.benches.latency", "Wire to speaker", True, 180),
    BenchInfo("barge_in", "bench.benches.barge_in", "Barge-in to silence", True, 240),
    BenchInfo("end_to_end", "bench.benches.end_to_end", "End to end (virtual devices)", True, 240),
    BenchInfo("echo", "bench.benches.echo", "Open speakers: echo cancellation", True, 420),
    BenchInfo("cpu", "bench.benches.cpu", "CPU share of one core", True, 240),
    BenchInfo("load", "bench.benches.load", "Under load: two busy processes", True, 600),
    BenchInfo("ui", "bench.benches.ui", "UI cost per transcript delta", False, 300),
    BenchInfo("memory", "bench.benches.memory", "Memory over a simulated hour", False, 300),
    BenchInfo("offline", "bench.benches.offline", "Offline engine", False, 600),
    BenchInfo("soak", "bench.benches.soak", "Connect/disconnect soak", False, 240),
)

BY_NAME = {b.name: b for b in BENCHES}
