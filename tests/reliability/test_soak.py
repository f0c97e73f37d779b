"""Soak, modest size: a long typed conversation at full speed and many
connect/disconnect cycles leave no threads or tasks behind, keep the engine's
bookkeeping bounded, and memory flat (the benchmarks run the big version)."""

from __future__ import annotations

from support.soak import run_soak


async def test_soak_shows_no_growth() -> None:
    report = await run_soak(turns=120, cycles=40)
    print("soak:", report.to_json())  # figures for the report (pytest -s)
    assert report.threads_after <= report.threads_before
    assert report.tasks_after <= report.tasks_before
    # Per-response maps are pruned between turns: bounded, not growing with the turns.
    assert report.engine_entries_after_turns <= 4
    assert report.engine_entries_max <= 8
    # Memory: nothing the cycles allocated stays alive (a few KB of in-flight noise);
    # RSS gets a few MB of slack for the allocator.
    assert report.heap_growth_kb < 2 * report.cycles, report.to_json()
    assert report.rss_growth_mb < 15, report.to_json()
