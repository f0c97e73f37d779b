"""The espeak-ng synthesiser: real libespeak-ng from the espeakng-loader wheel."""

from __future__ import annotations

import itertools
import threading

import pytest

from tests.support.audio_checks import duration_s, median_pitch_hz, rms_dbfs, spectral_centroid_hz
from voice_tui.config.schema import VOICES
from voice_tui.offline.tts import VOICE_MAP, EspeakSynthesizer, speakable, words_per_minute


@pytest.fixture(scope="module")
def synth() -> EspeakSynthesizer:
    return EspeakSynthesizer()


def speak(synth: EspeakSynthesizer, text: str, voice: str = "marin", speed: float = 1.0) -> bytes:
    return b"".join(synth.synthesize(text, voice, speed))


@pytest.mark.parametrize(
    "text",
    ["What time is it?", "The Wild Brunch has a table for four at noon on Sunday."],
)
def test_speech_is_audible_and_its_length_fits_the_text(
    synth: EspeakSynthesizer, text: str
) -> None:
    pcm = speak(synth, text)
    assert rms_dbfs(pcm) > -35
    ms_per_char = duration_s(pcm) * 1000 / len(text)
    assert 40 <= ms_per_char <= 120


def test_every_realtime_voice_is_mapped_and_sounds_different(synth: EspeakSynthesizer) -> None:
    assert set(VOICE_MAP) == set(VOICES)
    # espeak adds random noise, so compare measured voice traits rather than bytes.
    traits = {}
    for voice in VOICES:
        pcm = speak(synth, "Hello there, how are you today?", voice)
        traits[voice] = (median_pitch_hz(pcm), spectral_centroid_hz(pcm))
    for a, b in itertools.combinations(VOICES, 2):
        (pitch_a, centroid_a), (pitch_b, centroid_b) = traits[a], traits[b]
        pitch_ratio = max(pitch_a, pitch_b) / min(pitch_a, pitch_b)
        centroid_ratio = max(centroid_a, centroid_b) / min(centroid_a, centroid_b)
        assert pitch_ratio > 1.04 or centroid_ratio > 1.025, (a, b, traits[a], traits[b])
    # Female-variant voices are clearly higher than the male ones.
    assert traits["shimmer"][0] > traits["echo"][0] * 1.5
    assert traits["marin"][0] > traits["cedar"][0] * 1.5


def test_speed_changes_duration(synth: EspeakSynthesizer) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    slow, normal, fast = (duration_s(speak(synth, text, speed=s)) for s in (0.5, 1.0, 1.5))
    assert slow > normal * 1.4
    assert fast < normal * 0.85
    assert words_per_minute(0.25) == 80 and words_per_minute(1.0) == 175


def test_long_text_streams_in_several_chunks(synth: EspeakSynthesizer) -> None:
    chunks = list(synth.synthesize("One two three four five six seven eight nine ten.", "ash", 1))
    assert len(chunks) > 3
    assert all(len(c) % 2 == 0 for c in chunks)


def test_stopping_early_aborts_and_leaves_the_synthesiser_usable(
    synth: EspeakSynthesizer,
) -> None:
    stream = synth.synthesize("A long sentence that would take a good few seconds. " * 5, "sage", 1)
    first = next(stream)
    stream.close()
    assert first
    assert rms_dbfs(speak(synth, "Still working.")) > -35


def test_empty_text_yields_nothing_and_unknown_voice_falls_back(
    synth: EspeakSynthesizer,
) -> None:
    assert list(synth.synthesize("   ", "marin", 1.0)) == []
    assert rms_dbfs(speak(synth, "Fallback voice.", voice="no-such-voice")) > -35


def test_concurrent_use_is_serialised(synth: EspeakSynthesizer) -> None:
    text = "Two threads speaking at once."
    expected = {v: len(speak(synth, text, v)) for v in ("shimmer", "echo")}
    results: dict[str, bytes] = {}

    def run(voice: str) -> None:
        results[voice] = speak(synth, text, voice)

    threads = [threading.Thread(target=run, args=(v,)) for v in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # Interleaved synthesis would mix the two streams: lengths and pitch would change.
    assert set(results) == set(expected)
    for voice, pcm in results.items():
        assert len(pcm) == pytest.approx(expected[voice], rel=0.01)
    assert median_pitch_hz(results["shimmer"]) > median_pitch_hz(results["echo"]) * 1.5


@pytest.mark.parametrize(
    ("written", "read_aloud"),
    [
        ("It's 8:01 AM on Saturday.", "It's 8 oh 1 AM on Saturday."),
        ("It's 12:30 PM.", "It's 12 30 PM."),
        ("It's 8:00 am.", "It's 8 am."),
        ("Come at 9:00 or 17:00.", "Come at 9 o'clock or 17 hundred."),
        ("The score was 3:2, not 25:99.", "The score was 3:2, not 25:99."),
    ],
)
def test_clock_times_are_read_as_words(written: str, read_aloud: str) -> None:
    assert speakable(written) == read_aloud


def test_clock_times_are_spoken_not_spelled(synth: EspeakSynthesizer) -> None:
    # "8:00" spelled out ("eight zero zero") is longer than "8 o'clock" spoken.
    spoken = duration_s(speak(synth, "Come at 8:00."))
    assert spoken == pytest.approx(duration_s(speak(synth, "Come at 8 o'clock.")), rel=0.05)
