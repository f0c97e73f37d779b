"""The pocketsphinx recogniser, fed speech synthesised by the project's own espeak-ng."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from tests.support.phrases import (
    PHRASES,
    TEST_SPEED,
    TEST_VOICE,
    edit_distance,
    word_error_rate,
    words,
)
from voice_tui.offline.asr import MODEL_RATE, PARTIAL_EVERY_SAMPLES, PocketsphinxRecognizer
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.server.components import SAMPLE_RATE

BLOCK = SAMPLE_RATE * 20 // 1000 * 2  # 20 ms of pcm16, as a microphone delivers it
PAUSE = b"\0" * (SAMPLE_RATE * 2 * 3 // 10)  # 300 ms of silence around each utterance


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer()


@pytest.fixture(scope="module")
def synth() -> EspeakSynthesizer:
    return EspeakSynthesizer()


def spoken(synth: EspeakSynthesizer, text: str) -> bytes:
    return PAUSE + b"".join(synth.synthesize(text, TEST_VOICE, TEST_SPEED)) + PAUSE


def blocks(pcm: bytes) -> Iterator[bytes]:
    for start in range(0, len(pcm), BLOCK):
        yield pcm[start : start + BLOCK]


def transcribe(recognizer: PocketsphinxRecognizer, pcm: bytes) -> tuple[list[str], str]:
    stream = recognizer.start()
    partials = [p for p in map(stream.feed, blocks(pcm)) if p is not None]
    return partials, stream.finish()


def test_what_time_is_it_is_transcribed_with_its_key_words(
    recognizer: PocketsphinxRecognizer, synth: EspeakSynthesizer
) -> None:
    partials, final = transcribe(recognizer, spoken(synth, "What time is it?"))
    assert "time" in words(final)
    # Partials arrive while speaking, only when they change, at most every ~300 ms.
    assert partials and len(set(partials)) == len(partials)
    audio_samples_16k = len(spoken(synth, "What time is it?")) // 2 * MODEL_RATE // SAMPLE_RATE
    assert len(partials) <= audio_samples_16k // PARTIAL_EVERY_SAMPLES + 1


def test_a_quiet_room_does_not_stop_recognition(
    recognizer: PocketsphinxRecognizer, synth: EspeakSynthesizer
) -> None:
    # A microphone's hiss at ~35 dB below the speech (a quiet room), silences included.
    speech = np.frombuffer(spoken(synth, "What time is it?"), np.int16).astype(np.float64)
    hiss = np.random.default_rng(7).normal(0, 100, speech.size)
    noisy = np.clip(speech + hiss, -32768, 32767).astype(np.int16).tobytes()
    assert "time" in words(transcribe(recognizer, noisy)[1])


def test_word_error_rate_on_the_phrase_set_is_sane(
    recognizer: PocketsphinxRecognizer, synth: EspeakSynthesizer
) -> None:
    pairs = [(text, transcribe(recognizer, spoken(synth, text))[1]) for text in PHRASES]
    wer = word_error_rate(pairs)
    # Measured ~0.25 (espeak adds random noise, so it moves a little between runs).
    assert wer < 0.4, pairs


def test_silence_gives_an_empty_transcript(recognizer: PocketsphinxRecognizer) -> None:
    partials, final = transcribe(recognizer, PAUSE * 4)
    assert final == "" and all(p == "" for p in partials)


def test_two_utterances_at_once_do_not_mix(
    recognizer: PocketsphinxRecognizer, synth: EspeakSynthesizer
) -> None:
    a = spoken(synth, "What is the weather in Paris?")
    b = spoken(synth, "Turn the volume up.")
    first, second = recognizer.start(), recognizer.start()  # two pooled decoders
    for block_a, block_b in itertools.zip_longest(blocks(a), blocks(b)):
        if block_a is not None:
            first.feed(block_a)
        if block_b is not None:
            second.feed(block_b)
    heard_a, heard_b = words(first.finish()), words(second.finish())
    assert "weather" in heard_a and "volume" not in heard_a
    assert "volume" in heard_b and "weather" not in heard_b


def test_decoders_are_reused_even_after_an_abandoned_utterance(
    synth: EspeakSynthesizer,
) -> None:
    recognizer = PocketsphinxRecognizer()
    pcm = spoken(synth, "Tell me a joke.")
    transcribe(recognizer, pcm)
    dropped = recognizer.start()
    dropped.feed(pcm[: len(pcm) // 2])
    del dropped  # the server cleared the buffer mid-utterance
    gc.collect()
    # The reused decoder hears the whole utterance afresh (not the dropped half). Only
    # its opening is asserted: espeak's klatt voices add noise that differs on every
    # call, and the last word is the one the model is least sure of.
    heard = words(transcribe(recognizer, pcm)[1])
    assert heard[:2] == ["tell", "me"] and heard.count("tell") == 1
    assert recognizer.decoders_loaded == 1


def test_only_english_is_accepted(recognizer: PocketsphinxRecognizer) -> None:
    assert recognizer.start("en").finish() == ""
    assert recognizer.start("en-GB").finish() == ""
    with pytest.raises(ValueError, match=r"only understands English, not 'fr'"):
        recognizer.start("fr")


def test_torn_samples_are_tolerated_and_finish_is_final(
    recognizer: PocketsphinxRecognizer, synth: EspeakSynthesizer
) -> None:
    stream = recognizer.start()
    pcm = spoken(synth, "Read me the news.")
    for start in range(0, len(pcm), 961):  # odd sizes: samples split across calls
        stream.feed(pcm[start : start + 961])
    final = stream.finish()
    assert stream.finish() == final
    with pytest.raises(RuntimeError):
        stream.feed(b"\0\0")


def test_word_error_rate_counts_edits_per_reference_word() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2
    assert word_error_rate([("What time is it?", "what time is it")]) == 0.0
    assert word_error_rate([("Tell me a joke.", "tell a joke please")]) == 0.5
    with pytest.raises(ValueError):
        word_error_rate([("", "anything")])
