"""Per-thread CPU of this process, from /proc/self/task/<tid>/stat (Linux).

The share of each thread over a window of wall time, labelled by what the thread is:
a Python thread by its name, the audio callbacks by the native ids the streams record,
the rest (PulseAudio's client threads, the SDK's resolver) by the kernel's name.
The kernel counts in clock ticks (10 ms): over a 10 s window a share is good to 0.1 %.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
TASKS = Path("/proc/self/task")


def thread_ticks() -> dict[int, tuple[str, int]]:
    """Each live thread's (kernel name, user + system ticks)."""
    found: dict[int, tuple[str, int]] = {}
    for task in TASKS.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(task.name)] = (name, int(fields[11]) + int(fields[12]))
    return found


def thread_shares(
    before: Mapping[int, tuple[str, int]],
    after: Mapping[int, tuple[str, int]],
    seconds: float,
    known: Mapping[int, str],
) -> dict[str, float]:
    """% of one core per thread between two `thread_ticks` snapshots, by label: `known`
    names native ids (the audio callbacks), Python threads go by their names, and the
    rest are summed as "other native threads"."""
    python = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    main = threading.main_thread().native_id
    shares: dict[str, float] = {}
    for tid, (name, ticks) in after.items():
        used = ticks - before.get(tid, (name, 0))[1]
        if tid in known:
            label = known[tid]
        elif tid == main:
            label = "main thread (event loop)"
        elif tid in python:
            label = f"thread {python[tid]}"
        else:
            label = "other native threads (PulseAudio client, ...)"
        shares[label] = shares.get(label, 0.0) + 100 * used * TICK_S / seconds
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))
