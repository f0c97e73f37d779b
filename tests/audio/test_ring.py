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
    blocks=st.lists(st.integers(min_value=0, max_value=40), max_size=30),
    every=st.integers(1, 4),
)
def test_the_reader_gets_the_stream_in_order_minus_what_it_was_told_was_dropped(
    blocks: list[int], every: int
) -> None:
    ring = SampleRing(capacity=32, rate=1000)
    stream = ramp(0, sum(blocks))
    reads = []
    written = 0
    for i, n in enumerate(blocks):
        ring.write(stream[written : written + n], end_time=float(i))
        written += n
        if i % every == 0 and (read := ring.read()) is not None:
            reads.append(read)
    if (read := ring.read()) is not None:
        reads.append(read)
    position = 0
    for read in reads:
        position += read.dropped  # the gap is exactly what the read reports
        assert np.array_equal(read.samples, stream[position : position + len(read.samples)])
        position += len(read.samples)
        assert len(read.samples) <= ring.capacity
    assert position == written
    assert ring.dropped_total == sum(r.dropped for r in reads)


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


def test_a_reader_that_asked_for_several_blocks_is_woken_once_they_are_unread() -> None:
    ring = SampleRing(capacity=100, rate=1000)
    ring.wake_after = 15  # a quiet room: one wake-up per three 5-sample blocks
    ring.write(ramp(0, 5), end_time=5.0)
    ring.write(ramp(5, 5), end_time=10.0)
    assert not ring.wake.is_set()
    ring.write(ramp(10, 5), end_time=15.0)
    assert ring.wake.is_set()
    read = ring.read()
    assert read is not None and np.array_equal(read.samples, ramp(0, 15))
    ring.wake.clear()
    ring.wake_after = 1  # every block again
    ring.write(ramp(15, 5), end_time=20.0)
    assert ring.wake.is_set()


def test_a_loud_block_wakes_a_reader_that_asked_for_several_at_once() -> None:
    ring = SampleRing(capacity=100, rate=1000)
    ring.wake_after, ring.wake_peak = 15, 100  # a quiet room, listening for a voice
    ring.write(np.full(5, 100, np.int16), end_time=5.0)  # at the threshold: still quiet
    ring.write(np.full(5, -100, np.int16), end_time=10.0)
    assert not ring.wake.is_set() and ring.loud_blocks == 0
    ring.write(np.array([0, 0, -101, 0, 0], np.int16), end_time=15.0)  # wait: the count
    assert ring.wake.is_set() and ring.loud_blocks == 0  # woke it, not the peak
    ring.read()
    ring.wake.clear()
    ring.write(np.array([0, 0, 0, 0, -101], np.int16), end_time=20.0)  # 5 of 15 unread
    assert ring.wake.is_set() and ring.loud_blocks == 1
    ring.read()
    ring.wake.clear()
    ring.wake_peak = None  # the count alone again
    ring.write(np.full(5, 30_000, np.int16), end_time=25.0)
    assert not ring.wake.is_set() and ring.loud_blocks == 1


def test_a_reader_racing_a_fast_writer_never_sees_torn_audio() -> None:
    ring = SampleRing(capacity=64, rate=1000)
    blocks, n = 20_000, 7
    done = threading.Event()

    def writer() -> None:
        for i in range(blocks):
            ring.write(ramp(i * n, n), end_time=float(i))
        done.set()

    position = 0
    t = threading.Thread(target=writer)
    t.start()
    while not done.is_set() or ring.available:
        read = ring.read()
        if read is None:
            continue
        position += read.dropped
        assert np.array_equal(read.samples, ramp(position, len(read.samples)))
        position += len(read.samples)
    t.join()
    assert position == blocks * n


def test_silence_is_written_without_a_source_and_a_long_one_counts_as_dropped() -> None:
    ring = SampleRing(8, 24_000)
    ring.write(ramp(1, 3), end_time=1.0)
    ring.write_silence(2, end_time=2.0)
    got = ring.read()
    assert got is not None
    assert got.samples.tolist() == [1, 2, 3, 0, 0]
    assert got.end_time == 2.0
    ring.write(ramp(7, 4), end_time=3.0)  # across the wrap: the silence was overwritten
    ring.write_silence(20, end_time=4.0)  # longer than the ring: its oldest part is lost
    got = ring.read()
    assert got is not None
    assert got.samples.tolist() == [0] * 8
    assert got.dropped == 16
