"""Which words of an interrupted answer were heard."""

from __future__ import annotations

import pytest

from voice_tui.core.spoken_text import TYPICAL_MS_PER_CHAR, SpokenText, split_heard


@pytest.mark.parametrize(
    ("heard", "received", "expected"),
    [
        (0, 1000, ("", "one two three four")),
        (1000, 1000, ("one two three four", "")),
        (500, 1000, ("one two three", "four")),  # the word being spoken is finished
        (250, 1000, ("one", "two three four")),  # "two" had not started
        (100, 0, ("", "one two three four")),
    ],
)
def test_without_marks_the_text_spreads_over_the_audio(
    heard: int, received: int, expected: tuple[str, str]
) -> None:
    assert split_heard("one two three four", heard, received) == expected


def test_a_sentence_sent_ahead_of_its_audio_is_cut_where_its_audio_was() -> None:
    spoken = SpokenText()
    spoken.add("First sentence here. ", 0.0)  # 21 characters, spoken in 1000 ms
    spoken.add("Second one is a lot longer than that. ", 1000.0)  # 38 more
    # 1500 ms of audio received: the second sentence is half here, all of its text is.
    # Proportion of the received audio alone would call nearly all of it heard.
    heard, unheard = spoken.split(1450, 1500)
    assert (heard, unheard) == ("First sentence here. Second one", "is a lot longer than that. ")


def test_an_open_item_estimates_the_rest_from_its_speaking_rate() -> None:
    spoken = SpokenText()
    spoken.add("aaaa bbbb ", 0.0)  # 10 characters ...
    spoken.add("cccc dddd eeee ffff", 500.0)  # ... took 500 ms: 50 ms a character
    # The second delta's audio: 19 characters, about 950 ms, of which 200 have arrived.
    assert spoken.split(700, 700) == ("aaaa bbbb cccc", "dddd eeee ffff")
    spoken.audio_done = True  # all its audio came: the received audio is the whole
    assert spoken.split(700, 700) == ("aaaa bbbb cccc dddd eeee ffff", "")


def test_text_before_any_audio_uses_a_typical_speaking_rate() -> None:
    text = "word " * 40  # 200 characters, all sent before the audio
    spoken = SpokenText()
    spoken.add(text, 0.0)
    heard_ms = 50 * TYPICAL_MS_PER_CHAR  # about 50 characters' worth
    heard, unheard = spoken.split(heard_ms, heard_ms + 100)
    assert 45 <= len(heard) <= 55 and heard.endswith("word")
    assert f"{heard} {unheard}" == text


def test_the_final_transcript_keeps_the_marks_it_can() -> None:
    spoken = SpokenText()
    spoken.add("one two ", 0.0)
    spoken.add("three four", 400.0)
    spoken.replace("one two three four")
    assert spoken.marks == [(0, 0.0), (8, 400.0)]
    spoken.replace("one")
    assert spoken.marks == [(0, 0.0)]
