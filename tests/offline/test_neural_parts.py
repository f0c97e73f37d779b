"""The neural parts on real audio: Whisper hears hibari's voice, Silero tells speech from
noise, and a model file that is not the pinned one is refused.

Each model is loaded once per test process (the loaders cache it, as the app does).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.phrases import PHRASES, word_error_rate, words
from voice_tui.offline.neural_tts import HibariSynthesizer, VoiceRouter
from voice_tui.offline.silero_vad import SileroVad, shared_model
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.offline.whisper_asr import (
    BUNDLED_SHA256,
    ModelRejected,
    WhisperRecognizer,
    WhisperStream,
    bundled_model_dir,
)
from voice_tui.server.components import SAMPLE_RATE, Settling
from voice_tui.server.vad import EnergyVad, VadEvent, VadSettings

BLOCK = SAMPLE_RATE * 20 // 1000 * 2  # 20 ms of pcm16, as a microphone delivers it


def silence(ms: int) -> bytes:
    return bytes(SAMPLE_RATE * 2 * ms // 1000)


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    return WhisperRecognizer()


@pytest.fixture(scope="module")
def voice() -> HibariSynthesizer:
    return HibariSynthesizer()


def say(voice: HibariSynthesizer, text: str) -> bytes:
    return b"".join(voice.synthesize(text, "marin", 1.0))


def live(stream: WhisperStream, pcm: bytes) -> list[str]:
    partials = []
    for start in range(0, len(pcm), BLOCK):
        partial = stream.feed(pcm[start : start + BLOCK])
        if partial is not None:
            partials.append(partial)
    return partials


def test_hibari_speaks_24khz_speech_at_a_natural_pace(voice: HibariSynthesizer) -> None:
    text = "Saturday the fifth has room for four."
    chunks = list(voice.synthesize(text, "marin", 1.0))
    assert len(chunks) > 1  # streamed in pieces, not one block
    pcm = np.frombuffer(b"".join(chunks), "<i2").astype(np.float32) / 32768
    seconds = pcm.size / SAMPLE_RATE
    assert 40 <= seconds * 1000 / len(text) <= 120  # ms per character, as people speak
    assert 20 * math.log10(float(np.sqrt(np.mean(pcm**2)))) > -35
    faster = b"".join(voice.synthesize(text, "marin", 1.5))
    assert len(faster) < len(pcm) * 2 * 0.8


def test_whisper_understands_the_neural_voice(
    recognizer: WhisperRecognizer, voice: HibariSynthesizer
) -> None:
    phrases = PHRASES[:6]
    pairs = []
    for text in phrases:
        stream = recognizer.start()
        stream.feed(silence(300) + say(voice, text) + silence(300))
        pairs.append((text, stream.finish()))
    assert word_error_rate(pairs) <= 0.1, pairs


def test_partials_grow_while_speaking_and_a_whole_recording_decodes_once(
    recognizer: WhisperRecognizer, voice: HibariSynthesizer
) -> None:
    pcm = silence(200) + say(voice, "I would like to book a table for four people on Sunday.")
    stream = recognizer.start()
    partials = live(stream, pcm + silence(300))
    final = stream.finish()
    assert partials, "no partial transcript while the user was speaking"
    assert "table" in words(final) and "sunday" in words(final)
    whole = recognizer.start()
    assert whole.feed(pcm) is None  # a backlog is caught up, not decoded piece by piece
    assert words(whole.finish()) == words(final)


def test_a_decode_made_in_the_pause_is_the_transcript_unless_speech_resumes(
    recognizer: WhisperRecognizer, voice: HibariSynthesizer
) -> None:
    first, more = say(voice, "What time is it?"), say(voice, "And what day is it?")
    stream = recognizer.start()
    assert isinstance(stream, Settling)
    live(stream, first + silence(150))
    stream.settle()
    live(stream, silence(400))  # only silence follows: the settled decode stands
    assert "time" in words(stream.finish())

    resumed = recognizer.start()
    live(resumed, first + silence(150))
    resumed.settle()
    resumed.unsettle()  # the speaker went on
    live(resumed, more + silence(300))
    heard = words(resumed.finish())
    assert "time" in heard and "day" in heard


def test_an_english_only_model_refuses_other_languages(recognizer: WhisperRecognizer) -> None:
    with pytest.raises(ValueError, match="only understands English"):
        recognizer.start(language="fr")


def test_a_tampered_model_file_is_refused_by_name(tmp_path: Path) -> None:
    bundled = bundled_model_dir()
    for name in BUNDLED_SHA256:
        (tmp_path / name).symlink_to(bundled / name)
    (tmp_path / "vocabulary.txt").unlink()
    shutil.copy(bundled / "vocabulary.txt", tmp_path / "vocabulary.txt")
    with (tmp_path / "vocabulary.txt").open("a") as f:
        f.write("extra\n")
    with pytest.raises(ModelRejected, match=r"vocabulary\.txt"):
        WhisperRecognizer(tmp_path, pinned=BUNDLED_SHA256)


def test_the_router_gives_male_voices_to_espeak_and_female_ones_to_hibari(
    voice: HibariSynthesizer,
) -> None:
    router = VoiceRouter(voice, EspeakSynthesizer())
    assert router.uses_neural("marin") and router.uses_neural("Coral")
    assert not router.uses_neural("ash") and not router.uses_neural("en-gb-scotland")
    assert b"".join(router.synthesize("Howdy partner.", "ash", 1.0))


def detect(vad: SileroVad | EnergyVad, pcm: bytes) -> list[VadEvent]:
    events: list[VadEvent] = []
    for start in range(0, len(pcm), 960):  # 20 ms appends
        events += vad.feed(pcm[start : start + 960])
    return [e for e in events if e.kind in ("started", "stopped")]


def test_silero_finds_the_turn_in_speech(voice: HibariSynthesizer) -> None:
    speech = say(voice, "Is there a table free on Sunday?")
    pcm = silence(800) + speech + silence(1200)
    vad = shared_model().detector(VadSettings(0.5, 300, 500), 0)
    events = detect(vad, pcm)
    assert [e.kind for e in events] == ["started", "stopped"]
    samples = np.abs(np.frombuffer(speech, "<i2"))
    levels = samples[: samples.size - samples.size % 240].reshape(-1, 240).max(axis=1)
    first_ms, last_ms = (int(i) * 10 for i in np.flatnonzero(levels > 1000)[[0, -1]])
    onset = 800 + first_ms
    assert onset - 300 - 40 <= events[0].audio_ms <= onset - 300 + 100
    assert 800 + last_ms + 500 - 100 <= events[1].audio_ms <= 800 + last_ms + 500 + 200


def test_silero_ignores_noise_and_hum_that_the_energy_vad_takes_for_speech() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(SAMPLE_RATE * 3) / SAMPLE_RATE
    hum = 0.2 * np.sin(2 * math.pi * 100 * t) + 0.1 * np.sin(2 * math.pi * 300 * t)
    hiss = rng.normal(0, 0.05, t.size)
    for signal in (hum, hiss):
        pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes() + silence(800)
        assert detect(EnergyVad(VadSettings()), pcm)  # loud: the energy VAD fires
        assert detect(shared_model().detector(VadSettings(), 0), pcm) == []


def test_silero_hears_speech_over_a_noisy_room(voice: HibariSynthesizer) -> None:
    """Windows at the room's steady level skip the model; speech still rises above it."""
    rng = np.random.default_rng(11)
    speech = np.frombuffer(say(voice, "Book a table for two people."), "<i2") / 32768
    quiet = np.zeros(SAMPLE_RATE * 2)
    signal = np.concatenate([quiet, speech, quiet, quiet])
    room = rng.normal(0, 0.01, signal.size)  # -40 dBFS of steady noise throughout
    pcm = (np.clip(signal + room, -1, 1) * 32767).astype("<i2").tobytes()
    events = detect(shared_model().detector(VadSettings(), 0), pcm)
    assert [e.kind for e in events] == ["started", "stopped"]
    assert 2000 - 300 - 100 <= events[0].audio_ms <= 2000 + 500
