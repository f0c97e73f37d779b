"""The ring between the input callback and the worker: order, overflow, wake-ups."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_tui.audio.ring import SampleRing


def ramp(start: int, n: int) -> np.ndarray:
    return (np.arange(start, start + n) % 30000).astype(np.int16)


def test_reads_what_was_written_in_order_across_the_wrap() -> None:
    ring = SampleRing(capacity=10, rate=1000)
    got = []
    for i in range(0, 35, 7):
        ring.write(ramp(i, 7), end_time=float(i + 7))
        read = ring.read()
        assert read is not None and read.dropped == 0
        got.append(read.samples)
    assert np.array_equal(np.concatenate(got), ramp(0, 35))
    assert ring.read() is None


def test_overflow_drops_the_oldest_and_counts_it() -> None:
    ring = SampleRing(capacity=10, rate=1000)
    ring.write(ramp(0, 6), end_time=0.006)
    ring.write(ramp(6, 6), end_time=0.012)  # 12 written, room for 10
    read = ring.read()
    assert read is not None
    assert read.dropped == 2
    assert np.array_equal(read.samples, ramp(2, 10))
    assert ring.dropped_total == 2


def test_a_block_larger_than_the_ring_keeps_its_newest_samples() -> None:
    ring = SampleRing(capacity=8, rate=1000)
    ring.write(ramp(0, 20), end_time=0.02)
    read = ring.read()
    assert read is not None
    assert np.array_equal(read.samples, ramp(12, 8))
    assert read.dropped == 12


def test_end_time_is_that_of_the_newest_sample_read() -> None:
    ring = SampleRing(capacity=100, rate=1000)
    ring.write(ramp(0, 10), end_time=5.0)
    read = ring.read()
    assert read is not None and read.end_time == 5.0


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.lists(st.integers(min_value=0, max_value=40), max_size=30), every=st.integers(1, 4)
)
def test_the_reader_sees_a_suffix_of_the_stream_and_counts_the_rest(
    blocks: list[int], every: int
) -> None:
    ring = SampleRing(capacity=32, rate=1000)
    written = 0
    got: list[np.ndarray] = []
    dropped = 0
    for i, n in enumerate(blocks):
        ring.write(ramp(written, n), end_time=float(i))
        written += n
        if i % every == 0 and (read := ring.read()) is not None:
            got.append(read.samples)
            dropped += read.dropped
    if (read := ring.read()) is not None:
        got.append(read.samples)
        dropped += read.dropped
    received = np.concatenate(got) if got else np.zeros(0, np.int16)
    assert len(received) + dropped == written
    # whatever arrived is the stream minus the dropped samples, in order
    stream = ramp(0, written)
    kept = np.ones(written, bool)
    position = 0
    for chunk in got:
        # each read continues the stream, possibly after a gap of dropped samples
        start = (
            int(np.flatnonzero(stream[position:] == chunk[0])[0]) + position
            if len(chunk)
            else position
        )
        assert np.array_equal(stream[start : start + len(chunk)], chunk)
        kept[position:start] = False
        position = start + len(chunk)
    assert ring.dropped_total == dropped


def test_the_reader_sleeps_until_the_writer_signals() -> None:
    ring = SampleRing(capacity=100, rate=1000)
    assert ring.wait(0.01) is False  # nothing written: the wait times out
    woke = threading.Event()

    def reader() -> None:
        if ring.wait(10):
            woke.set()

    t = threading.Thread(target=reader)
    t.start()
    ring.write(ramp(0, 5), end_time=0.0)
    t.join(10)
    assert woke.is_set()
