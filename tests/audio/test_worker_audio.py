"""The audio worker with real PortAudio streams on the virtual PulseAudio server:
speech into the virtual microphone, assistant audio out of the virtual speaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.support.signals import (
    RATE,
    active_spans,
    align,
    play_into_mic,
    read_raw,
    read_wav,
    record_speaker,
    speech_wav,
    tone,
    wait_until,
)
from tests.support.virtual_audio import VirtualAudio
from tests.support.worker import Collected
from voice_tui.audio.echo import HalfDuplexGate
from voice_tui.audio.render_observer import RenderedBlock
from voice_tui.audio.status import AudioStatus
from voice_tui.audio.worker import QUIET_BATCH_MS, QUIET_PEAK, AudioWorker
from voice_tui.config.schema import AudioSettings
from voice_tui.core.events import AudioChunk

pytestmark = pytest.mark.audio

StartWorker = Callable[..., tuple[AudioWorker, Collected]]
CHUNK = 2400  # 100 ms per delta, as servers send them


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(tmp_path_factory.mktemp("speech") / "fox.wav")


def play_pcm(
    worker: AudioWorker, item: str, response: str, pcm: np.ndarray, *, complete: bool = True
) -> None:
    """Queue `pcm` as the engine would; `complete`: and say no more of the item comes."""
    for i in range(0, len(pcm), CHUNK):
        part = pcm[i : i + CHUNK].astype("<i2").tobytes()
        worker.play(AudioChunk(item, 0, response, part, time.perf_counter()))
    if complete:
        worker.end_item(item)


def capture_speech(
    audio: VirtualAudio, worker: AudioWorker, got: Collected, wav: Path
) -> np.ndarray:
    before = len(got.mic)
    play_into_mic(audio, wav)
    # the tail of the file is still on its way through the server and the ring
    wait_until(lambda: len(got.mic) - before > 10, what="microphone audio")
    settled = len(got.mic) + 15
    wait_until(lambda: len(got.mic) >= settled, what="the tail of the speech")
    return got.mic_signal(before)


@pytest.mark.parametrize("device_rate", [None, 48_000], ids=["24k", "48k-resampled"])
def test_speech_into_the_microphone_arrives_intact(
    virtual_audio: VirtualAudio, start_worker: StartWorker, speech: Path, device_rate: int | None
) -> None:
    # Fidelity, not latency, is under test: larger buffers ride out a busy CI machine.
    worker, got = start_worker(input_rate=device_rate, settings=AudioSettings(latency="high"))
    assert worker.status.input_rate == (device_rate or RATE)
    received = capture_speech(virtual_audio, worker, got, speech)
    source = read_wav(speech)
    correlation, _ = align(source, received)
    assert correlation > 0.9, worker.stats
    assert all(len(pcm) % 2 == 0 for pcm, _ in got.mic)
    stamps = [t for _, t in got.mic]
    assert stamps == sorted(stamps)  # capture times move forward
    assert any(level.rms_dbfs > -40 for level in got.levels)  # the meter saw the speech
    assert worker.stats.mic_samples_dropped == 0


@pytest.mark.parametrize("device_rate", [None, 48_000], ids=["24k", "48k-resampled"])
def test_assistant_audio_comes_out_of_the_speaker_intact(
    virtual_audio: VirtualAudio,
    start_worker: StartWorker,
    speech: Path,
    tmp_path: Path,
    device_rate: int | None,
) -> None:
    worker, got = start_worker(output_rate=device_rate, settings=AudioSettings(latency="high"))
    assert worker.status.output_rate == (device_rate or RATE)
    source = read_wav(speech)
    with record_speaker(virtual_audio, tmp_path / "out.raw") as path:
        play_pcm(worker, "item_1", "resp_1", source.astype(np.int16))
        wait_until(lambda: got.finished == ["item_1"], what="playback to finish")
    recorded = read_raw(path)
    correlation, _ = align(source, recorded)
    assert correlation > 0.9, worker.stats
    assert worker.heard("item_1") == pytest.approx(len(source) * 1000 / RATE, abs=2)
    assert not worker.is_playing()
    assert worker.stats.underruns == 0


def test_interrupt_stops_playback_where_heard_audio_says(
    virtual_audio: VirtualAudio, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker, got = start_worker()
    block_ms = AudioSettings().block_ms
    with record_speaker(virtual_audio, tmp_path / "out.raw") as path:
        play_pcm(worker, "item_1", "resp_1", tone(3.0), complete=False)
        wait_until(lambda: worker.heard("item_1") >= 700, what="playback to be under way")
        at_dac = worker.heard("item_1")
        heard = worker.interrupt()
        play_pcm(worker, "item_1", "resp_1", tone(1.0))  # late deltas of the response
        wait_until(lambda: not worker.is_playing(), what="playback to stop")
        settled = len(got.mic) + 10
        wait_until(lambda: len(got.mic) >= settled, what="the speaker to drain")
    assert heard is not None
    assert heard.item_id == "item_1"
    assert heard.received_ms == 3000
    assert not heard.finished
    output_latency_ms = (worker.output_latency_s or 0.0) * 1000
    # It stops within one block (plus what was already in the device's buffer).
    assert heard.heard_ms - at_dac <= block_ms + output_latency_ms + 5
    spans = active_spans(read_raw(path), threshold=8000 * 0.707 * 0.05)
    assert len(spans) == 1  # one stretch of tone: nothing played after the cut
    recorded_ms = (spans[0][1] - spans[0][0]) * 1000 / RATE
    assert abs(recorded_ms - heard.heard_ms) <= block_ms
    assert worker.stats.chunks_dropped == 10
    assert got.finished == []


def test_push_to_talk_and_mute_gate_what_is_sent_but_not_the_meter(
    virtual_audio: VirtualAudio, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker, got = start_worker()
    short = speech_wav(tmp_path / "hi.wav", "Hello there.")
    worker.set_ptt(True)  # push-to-talk, key not held
    ticks = len(got.levels) + 2
    wait_until(lambda: len(got.levels) >= ticks, what="the worker to see the key")
    sent = len(got.mic)
    levels_before = len(got.levels)
    play_into_mic(virtual_audio, short)
    wait_until(lambda: any(lv.rms_dbfs > -40 for lv in got.levels[levels_before:]), what="meter")
    assert len(got.mic) == sent  # nothing sent while not talking
    worker.set_talking(True)
    received = capture_speech(virtual_audio, worker, got, short)
    assert align(read_wav(short), received)[0] > 0.9
    worker.set_ptt(False)
    worker.set_muted(True)
    ticks = len(got.levels) + 2
    wait_until(lambda: len(got.levels) >= ticks, what="the worker to see the mute")
    sent = len(got.mic)
    levels_before = len(got.levels)
    play_into_mic(virtual_audio, short)
    wait_until(lambda: any(lv.rms_dbfs > -40 for lv in got.levels[levels_before:]), what="meter")
    assert len(got.mic) == sent  # muted: nothing more sent


class Inverter:
    """A stand-in echo canceller: whatever it returns is what gets metered and sent."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def process(self, samples: np.ndarray, captured_at: float) -> np.ndarray:
        self.seen.append(captured_at)
        return (-samples.astype(np.int32)).clip(-32768, 32767).astype(np.int16)


def test_the_mic_processor_seam_decides_what_is_sent(
    virtual_audio: VirtualAudio, start_worker: StartWorker, speech: Path
) -> None:
    worker, got = start_worker()
    inverter = Inverter()
    worker.set_mic_processor(inverter)
    received = capture_speech(virtual_audio, worker, got, speech)
    source = read_wav(speech)
    correlation, _ = align(-source, received)
    assert correlation > 0.9  # the processed signal went out, not the raw one
    assert inverter.seen == sorted(inverter.seen)


def test_a_microphone_that_cannot_open_leaves_the_speaker_working(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    finished: list[str] = []
    statuses: list[AudioStatus] = []
    worker = AudioWorker(
        AudioSettings(),
        on_mic=lambda pcm, t: None,
        on_level=lambda level: None,
        on_status=statuses.append,
        on_playback_finished=finished.append,
        input_rate=1_000_000,  # no device takes this: the microphone fails to open
    )
    try:
        status = worker.start()
        assert not status.has_input and status.has_output and not status.text_mode
        assert status.problem is not None
        assert "microphone 'default' could not be opened" in status.problem
        assert "audio.input_device" in status.problem
        with record_speaker(virtual_audio, tmp_path / "out.raw") as path:
            play_pcm(worker, "item_1", "resp_1", tone(0.5))
            wait_until(lambda: finished == ["item_1"], what="playback to finish")
        assert align(tone(0.5).astype(np.float64), read_raw(path))[0] > 0.9
    finally:
        worker.close()


def test_reopen_switches_devices_without_a_restart(
    virtual_audio: VirtualAudio, start_worker: StartWorker, speech: Path
) -> None:
    worker, got = start_worker()
    status = worker.reopen(input_device="pulse", output_device="pulse")
    assert (status.input_device, status.output_device, status.problem) == ("pulse", "pulse", None)
    assert got.statuses[-1] == status
    received = capture_speech(virtual_audio, worker, got, speech)
    assert align(read_wav(speech), received)[0] > 0.9
    worker.close()
    assert worker.reopen(input_device="default") == status  # closed: nothing reopens
    assert not worker.is_playing()


def test_render_observers_follow_playback_and_survive_a_reopen(
    virtual_audio: VirtualAudio, start_worker: StartWorker
) -> None:
    worker, got = start_worker()
    blocks: list[RenderedBlock] = []
    worker.add_render_observer(blocks.append)
    play_pcm(worker, "item_1", "resp_1", tone(0.3))
    wait_until(lambda: got.finished == ["item_1"], what="playback to finish")
    runs = [run for block in list(blocks) for run in block.runs]
    assert {run.item_id for run in runs} == {"item_1"}
    # All of the item's own audio (the device runs at 24 kHz), and at most the jitter
    # margin of periods the player inserted while it had none in hand.
    assert sum(run.count for run in runs if not run.filler) == len(tone(0.3))
    margin = RATE * AudioSettings().jitter_ms // 1000
    assert sum(run.count for run in runs if run.filler) <= margin
    assert worker.output_rate == RATE
    worker.reopen()
    before = len(blocks)
    play_pcm(worker, "item_2", "resp_2", tone(0.1))
    wait_until(lambda: got.finished[-1:] == ["item_2"], what="playback after the reopen")
    assert any(run.item_id == "item_2" for block in blocks[before:] for run in block.runs)
    worker.remove_render_observer(blocks.append)
    count = len(blocks)
    wait_until(lambda: worker.stats is not None and not worker.is_playing(), what="silence")
    play_pcm(worker, "item_3", "resp_3", tone(0.1))
    wait_until(lambda: got.finished[-1:] == ["item_3"], what="playback without observer")
    assert len(blocks) == count


def test_the_callback_threads_are_named_while_they_run(
    virtual_audio: VirtualAudio, start_worker: StartWorker
) -> None:
    worker, got = start_worker()
    play_pcm(worker, "item_1", "resp_1", tone(1.0))
    wait_until(lambda: worker.heard("item_1") > 0, what="playback to be under way")
    # The microphone's first block may come after the speaker's first ones.
    wait_until(lambda: len(worker.callback_threads) == 2, what="both streams' callbacks")
    named = worker.callback_threads
    assert sorted(named.values()) == ["microphone", "speaker"]
    live = {int(task.name) for task in Path("/proc/self/task").iterdir()}
    assert set(named) <= live and threading.get_native_id() not in named
    wait_until(lambda: got.finished == ["item_1"], what="playback to finish")


def test_a_quiet_room_is_sent_in_batches_and_a_voice_block_by_block(
    virtual_audio: VirtualAudio, start_worker: StartWorker, speech: Path
) -> None:
    worker, got = start_worker()
    block = RATE * AudioSettings().block_ms // 1000 * 2  # bytes of one block
    batch = RATE * QUIET_BATCH_MS // 1000 * 2
    # The idle speaker sleeps, and HOT_HOLD_S later the quiet mic goes out in batches.
    wait_until(lambda: worker.speaker_asleep, what="the idle speaker to sleep")
    wait_until(lambda: len(got.mic[-1][0]) == batch, what="a quiet batch")
    quiet, reads = len(got.mic), worker.stats.mic_reads
    wait_until(lambda: len(got.mic) >= quiet + 3, what="quiet batches")
    reads = worker.stats.mic_reads - reads  # counted before the batches: a read precedes
    with got.lock:  # its batch, and the last read's batch may be on its way
        assert {len(pcm) for pcm, _ in got.mic[quiet : quiet + 3]} == {batch}
        batches = len(got.mic) - quiet
    # Asleep between batches: the ring is read once per batch, not once per block.
    assert reads <= batches + 1
    before = len(got.mic)
    received = capture_speech(virtual_audio, worker, got, speech)
    with got.lock:
        sizes = [len(pcm) for pcm, _ in got.mic[before:]]
    # The first loud block goes out at once with the quiet batch before it, then the
    # voice and the silence after it as read (server VAD times that silence): a block,
    # or the few a worker that fell behind on a busy machine found in the ring at once.
    assert sizes[0] <= batch
    assert all(size % block == 0 and size < batch for size in sizes[1:])
    # The voice's first block woke the worker: it went out with at most the block or
    # two captured while the worker got going, not with the rest of a batch after it.
    sent = np.frombuffer(b"".join(pcm for pcm, _ in got.mic[before:]), np.int16)
    first_loud = int(np.argmax(np.abs(sent.astype(np.int32)) > QUIET_PEAK))
    ends = np.cumsum(sizes) // 2
    end_of_its_send = int(ends[np.searchsorted(ends, first_loud, side="right")])
    assert end_of_its_send - first_loud <= 3 * block // 2
    correlation, _ = align(read_wav(speech), received)
    assert correlation > 0.9  # nothing lost or reordered by the batching


def test_what_echo_handling_silences_goes_out_in_batches_while_the_speaker_plays(
    virtual_audio: VirtualAudio, start_worker: StartWorker
) -> None:
    worker, got = start_worker()
    worker.set_mic_processor(HalfDuplexGate(worker))  # silence while the tone is audible
    batch = RATE * QUIET_BATCH_MS // 1000 * 2
    play_pcm(worker, "item_1", "resp_1", tone(4.0))
    wait_until(lambda: not worker.speaker_asleep, what="the speaker to wake")
    wait_until(lambda: worker.is_playing(), what="the tone to play")
    before = len(got.mic)
    wait_until(lambda: len(got.mic) >= before + 5, what="mic audio while the tone plays")
    assert worker.is_playing()
    with got.lock:
        sent = got.mic[before + 1 : before + 5]  # the first may hold a block from before
    assert [len(pcm) for pcm, _ in sent] == [batch] * 4
    assert not any(any(pcm) for pcm, _ in sent)  # all silenced
