"""Per-thread CPU for the cpu benchmark (`bench/threads.py`): each thread's ticks from
/proc, labelled by what it is."""

from __future__ import annotations

import threading
import time

from bench.threads import thread_shares, thread_ticks

CPU_S = 0.2


def spin_then_wait(spun: threading.Barrier, done: threading.Event) -> None:
    """Use CPU_S of this thread's own CPU time (not wall time), then stay alive (idle)
    until `done`, so its ticks can still be read."""
    while time.thread_time() < CPU_S:
        pass
    spun.wait()
    done.wait()


def test_a_busy_thread_is_found_under_its_name_and_a_known_id_under_its_role() -> None:
    spun, done = threading.Barrier(3), threading.Event()
    threads = [
        threading.Thread(target=spin_then_wait, args=(spun, done), name=name)
        for name in ("busy", "stands-for-portaudio")
    ]
    before = thread_ticks()
    for thread in threads:
        thread.start()
    spun.wait()
    try:
        known = {threads[1].native_id or 0: "speaker callback (PortAudio)"}
        shares = thread_shares(before, thread_ticks(), 1.0, known)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    # CPU_S of CPU in a "1 s" window: about 20 % each (the kernel counts 10 ms ticks).
    assert shares["thread busy"] >= 15
    assert shares["speaker callback (PortAudio)"] >= 15
    assert "thread stands-for-portaudio" not in shares  # a known id goes by its role
    assert "main thread (event loop)" in shares
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
