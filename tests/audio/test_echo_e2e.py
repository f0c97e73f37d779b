"""Open speakers end to end (issue 8): the virtual speaker looped into the virtual mic
at -12 dB / 40 ms while the local server speaks long answers through the real SDK,
engine and AudioWorker. With echo cancellation the assistant never interrupts itself
and the echo in the sent audio is measured down; without it, it does interrupt itself
(so these tests can fail); a user speaking over the answer still interrupts it."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.support.echo_scenario import (
    MIN_ERLE_DB,
    AnswerResult,
    echo_loopback,
    measure_open_speakers,
    open_echo_session,
)
from tests.support.signals import speech_wav
from tests.support.virtual_audio import VirtualAudio
from voice_tui.audio.echo import EchoCanceller, EchoStats
from voice_tui.audio.echo_metrics import frame_levels

pytestmark = pytest.mark.audio

LEVEL_DB = -12
DELAY_MS = 40


def report(label: str, results: list[AnswerResult], stats: EchoStats) -> None:
    for r in results:
        assert r.figures is not None
        print(
            f"{label} answer {r.item_id}: speech_started {r.speech_started}, echo in mic "
            f"{r.figures.mic_dbfs:.1f} dBFS, after AEC {r.figures.cleaned_dbfs:.1f}, sent "
            f"{r.figures.sent_dbfs:.1f}; ERLE {r.figures.canceller_erle_db:.1f} dB (AEC), "
            f"{r.figures.total_erle_db:.1f} dB (sent)"
        )
    print(f"{label}: CPU {stats.cpu_share * 100:.2f}% of a core; {stats}")


@pytest.mark.parametrize(("level_db", "answers"), [(-12, 3), (-6, 2)])
async def test_aec_never_interrupts_itself_and_removes_the_echo(
    virtual_audio: VirtualAudio, tmp_path: Path, level_db: int, answers: int
) -> None:
    with echo_loopback(virtual_audio, level_db, DELAY_MS):
        async with open_echo_session(virtual_audio, tmp_path, "aec") as session:
            results = [await session.answer() for _ in range(answers)]
            assert isinstance(session.processor, EchoCanceller)
            stats = session.processor.stats
    report(f"aec {level_db} dB", results, stats)
    assert [r.speech_started for r in results] == [0] * answers
    assert not any(r.interrupted for r in results)
    assert not session.errors
    figures = [r.figures for r in results if r.figures is not None]
    assert len(figures) == answers
    for f in figures:
        assert f.mic_dbfs > -45, "the loopback did not bring the echo into the mic"
        assert f.total_erle_db >= 40  # what is sent: the guard silenced the residual
    # AEC3 alone: the median answer (the virtual loopback's latency jumps now and then,
    # and the canceller re-converges for a second or two: the guard covers that).
    assert statistics.median(f.canceller_erle_db for f in figures) >= MIN_ERLE_DB
    assert stats.passed_while_active == 0  # the guard let no residual echo through


async def test_half_duplex_sends_silence_while_the_assistant_speaks(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    with echo_loopback(virtual_audio, LEVEL_DB, DELAY_MS):
        async with open_echo_session(virtual_audio, tmp_path, "half-duplex") as session:
            (result,) = [await session.answer()]
            mic, far, _, sent = session.recording.signals()
    assert result.speech_started == 0
    assert not result.interrupted
    playing = frame_levels(far) > -55
    echo = frame_levels(mic) > -45
    heard = frame_levels(sent) > -100
    assert echo[playing].mean() > 0.5, "the loopback did not bring the echo into the mic"
    assert not heard[playing].any()


async def test_without_echo_handling_the_assistant_interrupts_itself(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    figures = await measure_open_speakers(
        virtual_audio, tmp_path, mode="off", level_db=LEVEL_DB, delay_ms=DELAY_MS
    )
    print(f"mode off: interrupted itself {figures.first_self_interruption_ms:.0f} ms in")
    assert figures.self_interruptions >= 1
    assert figures.first_self_interruption_ms is not None


async def test_user_speech_over_the_echo_still_interrupts(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    speech = speech_wav(tmp_path / "stop.wav", "Wait, stop, I have a question.")
    figures = await measure_open_speakers(
        virtual_audio,
        tmp_path,
        level_db=LEVEL_DB,
        delay_ms=DELAY_MS,
        answers=0,
        barge_in_speech=speech,
        barge_ins=4,
    )
    delays = [round(b.delay_ms) for b in figures.barge_ins if b.delay_ms is not None]
    print(
        f"barge-in over the echo: {figures.barge_in_rate:.0%} of {len(figures.barge_ins)}, "
        f"delays {delays} ms (from starting the speech to speech_started)"
    )
    assert figures.barge_in_rate >= 0.75
