"""Echo handling with synthetic signals: far-end alignment by timestamps, the
residual-echo guard's decisions, AEC3 on a simulated echo, the half-duplex gate, and
the mode switch. No devices: the playback reference is a real SampleRing written as
the output callback writes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soxr

from tests.support.echo_scenario import MIN_ERLE_DB
from tests.support.signals import read_wav, speech_wav
from voice_tui.audio.echo import (
    BYPASS_TAIL_MS,
    DISTRUST_MS,
    EchoCanceller,
    HalfDuplexGate,
    make_mic_processor,
    suggested_noise_reduction,
)
from voice_tui.audio.echo_align import FarEndAligner
from voice_tui.audio.echo_guard import FRAME, GuardSettings, ResidualEchoGuard
from voice_tui.audio.echo_metrics import EchoRecording, erle_db
from voice_tui.audio.ring import SampleRing, Samples
from voice_tui.audio.stream_clock import CLOCK_WINDOW
from voice_tui.config.schema import AudioSettings, Settings

RATE = 24_000
BLOCK = 480  # 20 ms


def noise(n: int, level: float, seed: int = 0) -> Samples:
    return (np.random.default_rng(seed).standard_normal(n) * level).astype(np.int16)


def counting(n: int) -> Samples:
    """Far-end samples that say which sample they are (mod 2^15)."""
    return (np.arange(n) % 32768).astype(np.int16)


@dataclass
class Tap:
    """The audio worker's side of the seam: its playback reference ring."""

    playback_reference: SampleRing | None


class Timeline:
    """A speaker and a mic on one clock: far sample i reaches the DAC at
    FAR_T0 + i/rate, mic sample c is captured at MIC_T0 + c/RATE."""

    FAR_T0 = 100.0
    MIC_T0 = 100.2  # the mic runs 200 ms after the speaker started

    def __init__(
        self, far: Samples, far_rate: int = RATE, jitter_s: float = 0.0, ahead_s: float = 0.03
    ) -> None:
        self.far = far
        self.ahead_s = ahead_s
        self.far_rate = far_rate
        self.ring = SampleRing(far_rate * 2, far_rate)
        self.written = 0
        self.mic_count = 0
        self.rng = np.random.default_rng(7)
        self.jitter_s = jitter_s

    def jitter(self) -> float:
        """Stamps come late (the callback waited), never early."""
        return float(self.rng.uniform(0, self.jitter_s)) if self.rng.uniform() < 0.5 else 0.0

    def play(self, until_s: float) -> None:
        """Write the far end up to DAC time `until_s` (blocks as a callback would)."""
        block = self.far_rate // 50
        while self.FAR_T0 + (self.written + block) / self.far_rate <= until_s:
            chunk = self.far[self.written : self.written + block]
            self.written += block
            self.ring.write(chunk, self.FAR_T0 + self.written / self.far_rate + self.jitter())

    def mic_block(self, n: int = BLOCK) -> float:
        """Advance the mic by n samples; the block's end time (jittered)."""
        self.mic_count += n
        end = self.MIC_T0 + self.mic_count / RATE
        self.play(end + self.ahead_s)  # the speaker runs ahead by the streams' latencies
        return end + self.jitter()

    def far_index(self, mic_count: int) -> int:
        """The far sample at the DAC when mic sample `mic_count` was captured."""
        return round((self.MIC_T0 + mic_count / RATE - self.FAR_T0) * RATE)


# -- alignment ----------------------------------------------------------------------


def test_far_end_is_what_the_speaker_played_when_the_mic_captured() -> None:
    line = Timeline(counting(RATE * 3))
    aligner = FarEndAligner(lead_ms=10)
    for _ in range(20):
        start = line.mic_count
        end = line.mic_block()
        aligner.pull(line.ring)
        far = aligner.take(BLOCK, end)
        first = line.far_index(start) + aligner.lead
        assert far.tolist() == counting(RATE * 3)[first : first + BLOCK].tolist()
    assert aligner.resyncs == 0
    assert aligner.missing == 0


def test_late_stamps_give_one_continuous_far_stream_close_to_the_truth() -> None:
    line = Timeline(counting(RATE * 3), jitter_s=0.030)
    aligner = FarEndAligner(lead_ms=10)
    previous_last: int | None = None
    errors = []
    for _ in range(100):
        start = line.mic_count
        end = line.mic_block()
        aligner.pull(line.ring)
        far = aligner.take(BLOCK, end).astype(np.int64)
        assert np.all(np.diff(far) % 32768 == 1), "the far end must be continuous within a block"
        if previous_last is not None:
            assert (far[0] - previous_last) % 32768 == 1, "and from block to block"
        previous_last = int(far[-1])
        error = int(far[0]) - (line.far_index(start) + aligner.lead)
        errors.append((error + 16384) % 32768 - 16384)  # the counting wraps at 2^15
    assert aligner.resyncs == 0
    assert max(abs(e) for e in errors[10:]) <= RATE // 1000  # within 1 ms once settled


def test_the_lead_never_reaches_past_what_the_speaker_has_played() -> None:
    line = Timeline(counting(RATE * 3), ahead_s=0.005)
    aligner = FarEndAligner(lead_ms=20)
    previous_last: int | None = None
    for _ in range(50):
        end = line.mic_block()
        aligner.pull(line.ring)
        far = aligner.take(BLOCK, end).astype(np.int64)
        if previous_last is not None:
            assert (far[0] - previous_last) % 32768 == 1
        previous_last = int(far[-1])
    assert aligner.missing == 0


def test_a_late_speaker_callback_while_settling_is_waited_for_not_cut() -> None:
    line = Timeline(counting(RATE * 3))
    aligner = FarEndAligner(lead_ms=20)

    def wait(timeout: float) -> bool:  # the late callback comes while we wait
        line.play(line.MIC_T0 + line.mic_count / RATE + line.ahead_s)
        return True

    for i in range(20):
        start = line.mic_count
        if i == 5:  # the speaker's callback is late: nothing past the mic's moment yet
            line.mic_count += BLOCK
            end = line.MIC_T0 + line.mic_count / RATE
        else:
            end = line.mic_block()
        aligner.pull(line.ring)
        far = aligner.take(BLOCK, end, wait)
        first = line.far_index(start) + aligner.lead
        assert far.tolist() == counting(RATE * 3)[first : first + BLOCK].tolist()
    assert aligner.lead_cuts == 0


def test_more_lead_than_the_speaker_buffer_gives_is_cut_once_settled() -> None:
    # The speaker looked 30 ms ahead when the far end was aligned (a burst of its
    # callbacks), then runs 5 ms ahead: every block lacks 15 ms of a 20 ms lead.
    line = Timeline(counting(RATE * 4), ahead_s=0.03)
    aligner = FarEndAligner(lead_ms=20)
    waits: list[int] = []

    def wait(timeout: float) -> bool:  # time passes: the speaker's next callback
        waits.append(line.mic_count)
        line.play(line.FAR_T0 + line.written / RATE + 0.02)
        return True

    previous_last: int | None = None
    for _ in range(100):
        end = line.mic_block()
        line.ahead_s = 0.005
        aligner.pull(line.ring)
        far = aligner.take(BLOCK, end, wait).astype(np.int64)
        if previous_last is not None:  # one continuous far end but for the cut
            assert (far[0] - previous_last) % 32768 == 1 or aligner.lead_cuts == 1
        previous_last = int(far[-1])
    assert aligner.lead_cuts == 1
    assert not [count for count in waits if count > BLOCK * 51]  # no waiting once cut
    assert aligner.late == 0 and aligner.missing == 0


def test_lost_mic_audio_realigns_once_the_clock_window_has_seen_it() -> None:
    line = Timeline(counting(RATE * 8))
    aligner = FarEndAligner(lead_ms=10)
    for _ in range(10):
        end = line.mic_block()
        aligner.pull(line.ring)
        aligner.take(BLOCK, end)
    line.mic_count += RATE // 5  # 200 ms of mic audio lost
    for _ in range(CLOCK_WINDOW + 2):
        start = line.mic_count
        end = line.mic_block()
        aligner.pull(line.ring)
        far = aligner.take(BLOCK, end)
    first = line.far_index(start) + aligner.lead
    assert far.tolist() == counting(RATE * 8)[first : first + BLOCK].tolist()
    assert aligner.resyncs == 1


def test_a_48k_speaker_is_resampled_and_aligned() -> None:
    far48 = noise(48_000 * 3, 6000)
    line = Timeline(far48, far_rate=48_000)
    aligner = FarEndAligner(lead_ms=10)
    got = []
    starts = []
    for _ in range(80):
        starts.append(line.mic_count)
        end = line.mic_block()
        aligner.pull(line.ring)
        got.append(aligner.take(BLOCK, end))
    out = np.concatenate(got[30:]).astype(np.float64)  # once settled
    truth = np.asarray(soxr.resample(far48.astype(np.float64), 48_000, RATE))
    aligned = line.far_index(starts[30])  # the far sample at the mic's moment
    lags = range(-RATE // 10, RATE // 10)
    scores = [float(np.dot(out, truth[aligned + lag : aligned + lag + len(out)])) for lag in lags]
    best = list(lags)[int(np.argmax(scores))]
    segment = truth[aligned + best : aligned + best + len(out)]
    assert np.corrcoef(out, segment)[0, 1] > 0.95  # one continuous, resampled stream
    # Close to the mic's moment: the resampler hands out its samples in bursts and this
    # speaker runs only 30 ms ahead, so the lead is cut to what it has played.
    assert -RATE // 100 <= best <= RATE // 50
    assert aligner.missing == 0


def test_a_new_reference_starts_over_and_none_gives_silence() -> None:
    line = Timeline(noise(RATE * 3, 6000))
    aligner = FarEndAligner()
    end = line.mic_block()
    assert aligner.pull(line.ring)
    assert aligner.take(BLOCK, end).any()
    assert not aligner.pull(line.ring)
    assert aligner.pull(None)
    assert not aligner.take(BLOCK, line.mic_block()).any()


# -- the residual-echo guard ---------------------------------------------------------


def frames_of(x: Samples) -> list[Samples]:
    return [x[i : i + FRAME] for i in range(0, len(x), FRAME)]


def run_guard(
    guard: ResidualEchoGuard, far: Samples, mic: Samples, out: Samples
) -> tuple[Samples, list[bool]]:
    """Feed 10 ms frames; the gated output and whether each frame passed."""
    sent, passed = [], []
    for i in range(0, len(far), FRAME):
        sent.append(guard.process(far[i : i + FRAME], mic[i : i + FRAME], out[i : i + FRAME]))
        passed.append(not guard.suppressing)
        assert (
            passed[-1] == np.array_equal(sent[-1], out[i : i + FRAME])
            or not out[i : i + FRAME].any()
        )
    return np.concatenate(sent), passed


def speechlike(seconds: float, level: float, seed: int) -> Samples:
    """Noise in syllables: 150 ms on, 100 ms off."""
    x = noise(int(RATE * seconds), level, seed)
    t = np.arange(len(x)) / RATE
    return (x * ((t % 0.25) < 0.15)).astype(np.int16)


def test_echo_alone_never_passes_and_the_residual_return_is_learned() -> None:
    far = speechlike(4.0, 6000, 1)
    echo = np.roll(far, 960) // 4  # -12 dB, 40 ms late
    residual = np.roll(far, 960) // 100  # what a canceller leaves: -40 dB
    guard = ResidualEchoGuard()
    gated, passed = run_guard(guard, far, echo, residual.astype(np.int16))
    assert not gated[FRAME:].any()
    assert not any(passed[1:])  # the first frame: the far end not yet playing
    assert guard.passed_while_active == 0
    assert guard.residual_db < -30  # learned from 0 dB towards the -40 dB it saw
    assert guard.erle_db is not None and 25 < guard.erle_db < 35  # mic -12, out -40


def test_near_end_speech_over_the_echo_passes_within_a_few_frames() -> None:
    far = speechlike(4.0, 6000, 1)
    echo = np.roll(far, 960) // 4
    residual = (np.roll(far, 960) // 100).astype(np.int16)
    near = np.zeros_like(far)
    onset = 3 * RATE
    near[onset:] = noise(len(far) - onset, 2000, 9)  # the user, -10 dB under the far end
    guard = ResidualEchoGuard()
    _, passed = run_guard(guard, far, echo + near, residual + near)
    first = passed.index(True)
    assert not any(passed[: onset // FRAME])
    assert onset // FRAME < first <= onset // FRAME + 3  # two voiced frames open the gate
    assert all(passed[first:])


def test_a_residual_burst_while_the_mic_is_only_echo_stays_silent() -> None:
    far = speechlike(4.0, 6000, 1)
    echo = (np.roll(far, 960) // 4).astype(np.int16)
    out = (np.roll(far, 960) // 100).astype(np.int16)
    burst = slice(3 * RATE, 3 * RATE + RATE // 4)
    out[burst] = echo[burst] // 2  # the canceller lost track: residual 26 dB too loud
    guard = ResidualEchoGuard()
    _, passed = run_guard(guard, far, echo, out)
    assert not any(passed[1:])
    assert guard.vetoed_frames > 0  # loud enough to pass on energy: the mic told

    # The same output while someone talks over the echo (the mic is no longer a copy
    # of the far end): it passes.
    near = np.zeros_like(far)
    near[burst] = noise(RATE // 4, 3000, 8)
    guard = ResidualEchoGuard()
    _, passed = run_guard(guard, far, echo + near, out)
    assert any(passed[burst.start // FRAME : burst.stop // FRAME])


def test_hangover_keeps_the_gate_open_after_speech() -> None:
    settings = GuardSettings(hangover_ms=200)
    far = speechlike(3.0, 6000, 1)
    near = np.zeros_like(far)
    near[2 * RATE : 2 * RATE + RATE // 5] = noise(RATE // 5, 3000, 4)  # 200 ms of speech
    guard = ResidualEchoGuard(settings)
    residual = (np.roll(far, 960) // 100).astype(np.int16)
    _, passed = run_guard(guard, far, residual + near, residual + near)
    end = (2 * RATE + RATE // 5) // FRAME
    assert all(passed[end : end + 19])
    assert not any(passed[end + 21 : end + 40])


def test_warm_up_is_stricter_right_after_playback_starts() -> None:
    settings = GuardSettings(warmup_ms=300, warmup_extra_db=10.0, margin_db=10.0)
    quiet = np.zeros(RATE, dtype=np.int16)
    far = np.concatenate([quiet, noise(RATE, 6000, 2)])
    residual = far // 100
    # Near end 15 dB above the learned residual: between the margin and margin+warm-up.
    near = np.concatenate([quiet, noise(RATE, 6000 / 100 * 5.6, 3)])
    guard = ResidualEchoGuard(settings)
    guard.residual_db = -40.0  # as learned on an earlier answer
    _, passed = run_guard(guard, far, residual + near, (residual + near).astype(np.int16))
    start = RATE // FRAME
    assert not any(passed[start : start + 30])  # warm-up: 300 ms
    assert any(passed[start + 30 : start + 40])


def test_without_far_end_everything_passes_unchanged() -> None:
    guard = ResidualEchoGuard()
    mic = noise(RATE, 50, 5)
    gated, passed = run_guard(guard, np.zeros_like(mic), mic, mic)
    assert np.array_equal(gated, mic)
    assert all(passed)
    assert not guard.far_active and not guard.suppressing


# -- the canceller, the gate, the modes -----------------------------------------------


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    path: Path = tmp_path_factory.mktemp("echo") / "answer.wav"
    text = "Once upon a time there lived an old fisherman who told stories to everyone."
    return read_wav(speech_wav(path, text)).astype(np.int16)


def simulate(processor: EchoCanceller | HalfDuplexGate, line: Timeline, mic: Samples) -> Samples:
    """Run mic blocks through the processor as the worker does."""
    sent = []
    for i in range(0, len(mic) - BLOCK + 1, BLOCK):
        end = line.mic_block()
        sent.append(processor.process(mic[i : i + BLOCK], end))
    return np.concatenate(sent)


def echo_of(line: Timeline, n: int, delay_ms: int, gain: float) -> Samples:
    """What the mic hears of the speaker: the far end at the mic's times, late and quieter."""
    first = line.far_index(0) - RATE * delay_ms // 1000
    idx = np.arange(first, first + n)
    out = np.where(idx >= 0, line.far[np.clip(idx, 0, len(line.far) - 1)], 0)
    return (out * gain).astype(np.int16)


def test_aec_removes_a_simulated_echo_and_reports_its_state(speech: Samples) -> None:
    far = np.concatenate([np.zeros(RATE // 2, np.int16), speech, speech])
    line = Timeline(far)
    mic = echo_of(line, len(far) - RATE, delay_ms=40, gain=0.25)
    recording = EchoRecording()
    aec = EchoCanceller(Tap(line.ring), monitor=recording)
    sent = simulate(aec, line, mic)
    m, _, cleaned, _ = recording.signals()
    half = len(m) // 2  # after a first pass over the speech the filter has converged
    erle = erle_db(m[half:], cleaned[half:])
    print(f"AEC3 on a simulated -12 dB / 40 ms echo: ERLE {erle:.1f} dB, {aec.stats}")
    assert erle >= 20
    assert not sent[half:].any()  # the guard silences the residual
    state = aec.state
    assert state.mode == "aec" and state.has_reference
    assert state.erle_db is not None and state.erle_db > 20
    assert aec.stats.audio_s == pytest.approx(len(sent) / RATE)
    assert 0 < aec.stats.cpu_share < 0.5


def test_aec_without_a_speaker_passes_the_mic_through() -> None:
    aec = EchoCanceller(Tap(None))
    mic = noise(BLOCK, 3000)
    assert np.array_equal(aec.process(mic, 1.0), mic)
    assert not aec.state.has_reference


def test_half_duplex_sends_silence_while_the_assistant_is_audible() -> None:
    far = np.concatenate([noise(RATE, 6000, 1), np.zeros(RATE * 2, np.int16)])
    line = Timeline(far)
    mic = noise(RATE * 2, 3000, 2)  # the user talks all along
    gate = HalfDuplexGate(Tap(line.ring), tail_ms=300)
    sent = simulate(gate, line, mic)
    playing_until = line.far_index(0)  # far sample at the first mic sample
    assert playing_until < RATE
    audible = RATE - playing_until  # mic samples during which the far end plays
    assert not sent[: audible - BLOCK].any()
    tail_end = audible + RATE * 300 // 1000 + RATE * 20 // 1000 + BLOCK
    assert np.array_equal(sent[tail_end:], mic[tail_end : len(sent)])
    assert gate.stats.suppressed_frames > 0


def test_the_mode_picks_the_processor() -> None:
    tap = Tap(None)
    assert isinstance(make_mic_processor(AudioSettings(), tap), EchoCanceller)
    assert isinstance(make_mic_processor(AudioSettings(echo="half-duplex"), tap), HalfDuplexGate)
    assert make_mic_processor(AudioSettings(echo="off"), tap) is None


def test_far_field_noise_reduction_is_suggested_with_aec_unless_chosen() -> None:
    assert suggested_noise_reduction(Settings()) == "far_field"
    chosen = Settings.model_validate({"session": {"noise_reduction": "near_field"}})
    assert suggested_noise_reduction(chosen) == "near_field"
    headphones = Settings.model_validate({"audio": {"echo": "off"}})
    assert suggested_noise_reduction(headphones) == "near_field"


# -- bypass while the speaker is silent ------------------------------------------------


def run_blocks(
    aec: EchoCanceller, line: Timeline, mic: Samples
) -> tuple[list[Samples], list[Samples], list[bool]]:
    """Like `simulate`, keeping each block sent and whether it was bypassed."""
    blocks, sent, bypassed = [], [], []
    for i in range(0, len(mic) - BLOCK + 1, BLOCK):
        block = mic[i : i + BLOCK]
        blocks.append(block)
        sent.append(aec.process(block, line.mic_block()))
        bypassed.append(aec.state.bypassed)
    return blocks, sent, bypassed


def test_bypass_engages_after_the_echo_tail_and_passes_a_copy_of_the_mic() -> None:
    talk = noise(RATE, 6000, 1)
    far = np.concatenate([np.zeros(RATE // 2, np.int16), talk, np.zeros(RATE * 3, np.int16)])
    line = Timeline(far)
    mic = echo_of(line, RATE * 3, delay_ms=40, gain=0.25) + noise(RATE * 3, 30, 2)
    aec = EchoCanceller(Tap(line.ring))
    blocks, sent, bypassed = run_blocks(aec, line, mic)
    # The aligned far end (20 ms lead) falls silent at this mic block...
    lead = RATE * 20 // 1000  # the canceller's default
    silent_from = -(-(RATE // 2 + RATE - line.far_index(0) - lead) // BLOCK)
    first = bypassed.index(True)
    tail_blocks = (20 + BYPASS_TAIL_MS) * RATE // 1000 // BLOCK
    assert not any(bypassed[: silent_from + tail_blocks - 1])  # ...and the echo dies out
    assert first <= silent_from + tail_blocks + 1
    assert all(bypassed[first:])
    for block, out in zip(blocks[first:], sent[first:], strict=True):
        assert out.dtype == np.int16 and np.array_equal(out, block)
        assert not np.shares_memory(out, block)  # a copy, as from the canceller
    stats = aec.stats
    assert stats.bypassed_frames == (len(blocks) - first) * BLOCK // FRAME
    assert stats.frames == len(blocks) * BLOCK // FRAME  # processed and bypassed
    assert aec.state.bypassed and not aec.state.suppressing and not aec.state.far_active


def test_bypass_ends_with_the_first_block_of_far_end_audio() -> None:
    quiet = np.zeros(RATE * 2, np.int16)
    far = np.concatenate([quiet, noise(RATE, 6000, 1), quiet])
    line = Timeline(far)
    recording = EchoRecording()
    aec = EchoCanceller(Tap(line.ring), monitor=recording)
    _, _, bypassed = run_blocks(aec, line, noise(RATE * 2, 30, 2))
    _, far_seen, _, _ = recording.signals()
    audible = [bool(far_seen[i : i + BLOCK].any()) for i in range(0, len(far_seen), BLOCK)]
    start = audible.index(True)
    assert all(bypassed[start - 5 : start])  # the speaker had long been silent
    assert not any(bypassed[start:])  # processed from its first audible block on


def test_echo_is_cancelled_on_the_first_answer_after_a_long_silence(speech: Samples) -> None:
    """One answer, 3 s of silence (bypassed), a second answer: AEC3 cancels the second
    as well as a canceller that never stopped, and the guard sends none of it."""
    lead_in = np.zeros(RATE // 2, np.int16)
    far = np.concatenate([lead_in, speech, np.zeros(RATE * 3, np.int16), speech, lead_in])
    second = len(lead_in) + len(speech) + RATE * 3  # far index where the second starts
    results = []
    for tail in (BYPASS_TAIL_MS, None):
        line = Timeline(far)
        mic = echo_of(line, len(far) - RATE, delay_ms=40, gain=0.25)
        recording = EchoRecording()
        aec = EchoCanceller(Tap(line.ring), monitor=recording, bypass_tail_ms=tail)
        sent = simulate(aec, line, mic)
        m, _, cleaned, _ = recording.signals()
        start = second - line.far_index(0)  # mic index where its echo starts
        end = start + len(speech)
        results.append((erle_db(m[start:end], cleaned[start:end]), sent[start:end], aec.stats))
    (erle, sent_echo, stats), (erle_never, _, _) = results
    print(f"first answer after silence: ERLE {erle:.1f} dB (never bypassed: {erle_never:.1f})")
    assert stats.bypassed_frames >= 2 * RATE // FRAME  # most of the 3 s were bypassed
    assert erle >= MIN_ERLE_DB
    assert erle >= erle_never - 3.0  # the bypass cost the canceller nothing it had learned
    assert not sent_echo.any()  # no echo reaches the server


def test_after_the_speaker_ran_out_nothing_passes_while_the_assistant_is_audible(
    speech: Samples,
) -> None:
    far = np.concatenate([np.zeros(RATE // 2, np.int16), speech, speech, speech])
    line = Timeline(far)
    n = len(far) - RATE
    user = np.zeros(n, np.int16)
    start = len(speech) + RATE  # well into the second pass of the answer
    talk = slice(start, start + RATE)  # the user talks over it for a second
    user[talk] = (speech[:RATE] * 0.8).astype(np.int16)
    mic = echo_of(line, n, delay_ms=40, gain=0.25) + user
    aec = EchoCanceller(Tap(line.ring))
    simulate(aec, line, mic[: talk.start])
    assert aec.stats.passed_while_active == 0
    line.ring.gaps += 1  # the speaker ran out just now (a busy machine)
    distrusted = RATE * DISTRUST_MS // 1000
    muted = simulate(aec, line, mic[talk.start : talk.start + distrusted])
    assert not muted.any()  # the user's words too: fail safe, not a leak of echo
    assert aec.stats.late_frames >= distrusted // (RATE // 100)
    after = simulate(aec, line, mic[talk.start + distrusted : talk.stop])
    assert after.any()  # then the voice over the echo passes again
