"""The energy VAD on real signals: synthetic voiced sound and espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.server import espeak_pcm, silence, voiced
from voice_tui.server.config import ServerVad
from voice_tui.server.input_audio import (
    MAX_TURN_MS,
    SOFT_TURN_MS,
    Committed,
    InputAudio,
    SpeechStarted,
)
from voice_tui.server.vad import EnergyVad, VadEvent, VadSettings, pause_ms


def run_all(settings: VadSettings, pcm: bytes, chunk_bytes: int = 960) -> list[VadEvent]:
    vad = EnergyVad(settings)
    events: list[VadEvent] = []
    for start in range(0, len(pcm), chunk_bytes):
        events += vad.feed(pcm[start : start + chunk_bytes])
    return events


def run(settings: VadSettings, pcm: bytes, chunk_bytes: int = 960) -> list[VadEvent]:
    """The turn events only (started / stopped), without the pause hints."""
    return [e for e in run_all(settings, pcm, chunk_bytes) if e.kind in ("started", "stopped")]


@pytest.mark.parametrize(
    ("prefix_ms", "silence_ms"),
    [(300, 500), (0, 200), (500, 1000)],
)
def test_timings_honour_padding_and_silence(prefix_ms: int, silence_ms: int) -> None:
    pcm = silence(1000) + voiced(800) + silence(silence_ms + 300)
    events = run(VadSettings(0.5, prefix_ms, silence_ms), pcm)
    assert [e.kind for e in events] == ["started", "stopped"]
    assert events[0].audio_ms == 1000 - prefix_ms
    assert events[1].audio_ms == 1800 + silence_ms


def test_result_does_not_depend_on_chunking() -> None:
    pcm = silence(700) + voiced(600) + silence(300) + voiced(500) + silence(900)
    reference = run(VadSettings(), pcm, chunk_bytes=960)
    for chunk in (2, 333, 4800, len(pcm)):
        assert run(VadSettings(), pcm, chunk_bytes=chunk) == reference


def test_pause_shorter_than_silence_keeps_one_turn() -> None:
    pcm = silence(500) + voiced(600) + silence(300) + voiced(500) + silence(900)
    events = run(VadSettings(silence_duration_ms=500), pcm)
    assert [e.kind for e in events] == ["started", "stopped"]
    assert events[1].audio_ms == 1900 + 500


def test_pause_longer_than_silence_splits_turns() -> None:
    pcm = silence(500) + voiced(600) + silence(300) + voiced(500) + silence(900)
    events = run(VadSettings(silence_duration_ms=200), pcm)
    assert [e.kind for e in events] == ["started", "stopped", "started", "stopped"]


def test_threshold_decides_what_counts_as_speech() -> None:
    quiet = silence(300) + voiced(800, level=0.02) + silence(800)  # about -40 dBFS
    assert run(VadSettings(threshold=0.2), quiet)
    assert not run(VadSettings(threshold=0.7), quiet)


def test_a_click_is_not_speech() -> None:
    pcm = silence(500) + voiced(20, level=0.9) + silence(800)
    assert run(VadSettings(threshold=0.1), pcm) == []


def test_noise_floor_is_not_speech() -> None:
    rng = np.random.default_rng(3)
    noise = (rng.normal(0, 0.003, 24_000 * 2) * 32767).astype("<i2").tobytes()  # ~-50 dBFS
    assert run(VadSettings(), noise) == []


def test_espeak_speech_is_one_turn(tmp_path: Path) -> None:
    speech = espeak_pcm("What time is it in London?", tmp_path)
    pcm = silence(800) + speech + silence(1200)
    events = run(VadSettings(), pcm)
    assert [e.kind for e in events] == ["started", "stopped"]
    speech_ms = len(speech) // 48
    # espeak's own lead-in is a few quiet milliseconds; the start lands near 800 - 300
    assert 450 <= events[0].audio_ms <= 650
    assert 800 + speech_ms <= events[1].audio_ms <= 800 + speech_ms + 500 + 20


def test_input_audio_clock_stays_exact_across_odd_appends_and_clears() -> None:
    audio = InputAudio(lambda: None)
    audio.configure(ServerVad(type="server_vad"))
    written = 0
    for _ in range(37):  # 250-byte appends: not a whole number of milliseconds each
        audio.append(bytes(250))
        written += 250
    audio.clear()
    assert audio.clock_ms == written // 48
    happenings = []
    pcm = voiced(800) + silence(900)
    for start in range(0, len(pcm), 250):
        happenings += audio.append(pcm[start : start + 250])
    written += len(pcm)
    assert audio.clock_ms == written // 48
    started, turn = happenings
    assert isinstance(started, SpeechStarted) and isinstance(turn, Committed)
    assert turn.item_id == started.item_id
    assert len(turn.pcm) // 48 == turn.audio_end_ms - started.audio_start_ms


def test_push_to_talk_commit_takes_everything() -> None:
    audio = InputAudio(lambda: None)
    audio.configure(None)
    assert audio.append(voiced(300) + silence(2000)) == []  # no VAD
    turn = audio.commit()
    assert len(turn.pcm) == 2300 * 48
    assert audio.clock_ms == 2300


def test_a_pause_inside_a_turn_is_hinted_before_the_turn_ends() -> None:
    """The recogniser may start its final decode at the pause; a resumption cancels it."""
    settings = VadSettings(silence_duration_ms=500)
    pcm = silence(300) + voiced(600) + silence(300) + voiced(500) + silence(900)
    events = run_all(settings, pcm)
    assert [e.kind for e in events] == ["started", "paused", "resumed", "paused", "stopped"]
    # the hint names where the voice ended, and comes well before the turn's end
    assert events[1].audio_ms == 900 and events[3].audio_ms == 1700
    assert pause_ms(settings) < settings.silence_duration_ms
    assert events[4].audio_ms == 1700 + 500


def turns_of(happenings: list[object]) -> list[Committed]:
    return [h for h in happenings if isinstance(h, Committed)]


def test_endless_speech_is_cut_into_turns_of_at_most_the_maximum() -> None:
    """Issue 13.4: 65 s of speech without a pause must not stay one growing utterance."""
    audio = InputAudio(lambda: None)
    audio.configure(ServerVad(type="server_vad"))
    happenings: list[object] = []
    speech = voiced(65_000)
    for start in range(0, len(speech), 4800):  # 100 ms appends, as a client streams
        happenings += audio.append(speech[start : start + 4800])
    happenings += audio.append(silence(1000))
    turns = turns_of(happenings)
    starts = [h for h in happenings if isinstance(h, SpeechStarted)]
    assert len(turns) == 3 and len(starts) == 3
    assert all(len(t.pcm) // 48 <= MAX_TURN_MS for t in turns)
    assert [t.item_id for t in turns] == [s.item_id for s in starts]
    # nothing is lost between the turns: together they hold all the speech
    assert sum(len(t.pcm) for t in turns) >= len(speech)
    assert len(audio.buffer) < 48 * 1000


def test_a_long_turn_is_cut_at_a_pause_rather_than_mid_word() -> None:
    audio = InputAudio(lambda: None)
    audio.configure(ServerVad(type="server_vad", silence_duration_ms=800))
    # 22 s of speech, a 300 ms breath (shorter than the silence), then more speech
    pcm = voiced(22_000) + silence(300) + voiced(3_000) + silence(1200)
    happenings: list[object] = []
    for start in range(0, len(pcm), 4800):
        happenings += audio.append(pcm[start : start + 4800])
    first, second = turns_of(happenings)
    assert SOFT_TURN_MS <= first.audio_end_ms <= 22_000 + 100
    assert len(second.pcm) // 48 < 5_000
