"""Short English commands for measuring offline recognition, and the word error rate.

Shared by tests/offline/test_asr.py (a sane bound) and the benchmark (the figure).
The phrases are what people say to a voice assistant in a terminal; the recogniser
is configured without knowing them (no keyword lists, no custom language model).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# How the phrases are synthesised (espeak-ng voice name, Realtime speed). pocketsphinx's
# acoustic model was trained on human speech; of the wheel's voices, the Klatt-synthesis
# variant "klatt4" at the normal rate (175 words per minute) is recognised best
# (measured: WER ~0.25, against ~0.6 for the default en-us voice and ~0.33 at 160 wpm).
TEST_VOICE = "en-us+klatt4"
TEST_SPEED = 1.0

PHRASES: tuple[str, ...] = (
    "What time is it?",
    "What is the weather like today?",
    "Book a table for two people.",
    "Goodbye and thank you.",
    "Tell me a joke.",
    "What day is it today?",
    "Is there a table free on Sunday?",
    "Please speak a little slower.",
    "Can you hear me?",
    "What is the weather in Paris?",
    "Thank you very much.",
    "I would like to book a table for four.",
    "How are you doing today?",
    "Please stop talking.",
    "What can you do?",
    "Set a timer for ten minutes.",
    "Turn the volume up.",
    "Read me the news.",
    "That is all for now.",
    "Good morning.",
)

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: what a transcript is compared on."""
    return _WORD.findall(text.lower())


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs: total edits / total reference words."""
    edits = total = 0
    for reference, hypothesis in pairs:
        ref = words(reference)
        edits += edit_distance(ref, words(hypothesis))
        total += len(ref)
    if total == 0:
        raise ValueError("word_error_rate needs at least one reference word")
    return edits / total
