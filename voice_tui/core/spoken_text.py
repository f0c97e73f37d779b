"""An assistant item's words, placed on its audio: what the user heard of them.

A transcript delta arrives just ahead of the audio that speaks it, so the audio received
when a delta arrives says where its words start. With those marks an interruption cuts
the text where the audio was cut, even when the text has run well ahead of the audio
(a whole sentence sent before its speech, or a reply whose audio is still coming).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

# Conversational speech runs at about 14 characters a second: the estimate for words
# whose audio has not all arrived when nothing better is known.
TYPICAL_MS_PER_CHAR = 70.0


@dataclass(slots=True)
class SpokenText:
    text: str = ""
    # (text offset, audio ms received when the text from that offset arrived)
    marks: list[tuple[int, float]] = field(default_factory=list)
    audio_done: bool = False  # no more audio will come for this item

    def add(self, delta: str, audio_ms: float) -> None:
        if not delta:
            return
        if not self.marks or self.marks[-1][1] < audio_ms:
            self.marks.append((len(self.text), audio_ms))
        self.text += delta

    def end_audio(self) -> None:
        self.audio_done = True

    def replace(self, final: str) -> None:
        """The final transcript (normally the deltas joined): the marks stay where they
        were, as far as the new text reaches."""
        self.text = final
        self.marks = [m for m in self.marks if m[0] < len(final)]

    def split(self, heard_ms: float, received_ms: float) -> tuple[str, str]:
        """(heard, not heard) when `heard_ms` of the `received_ms` of audio received
        reached the listener; the word being spoken counts as heard."""
        return split_heard(self.text, heard_ms, received_ms, self.marks, self.audio_done)


def split_heard(
    text: str,
    heard_ms: float,
    received_ms: float,
    marks: list[tuple[int, float]] | None = None,
    audio_done: bool = True,
) -> tuple[str, str]:
    """Split `text` at `heard_ms` of its audio, at a word boundary.

    Between two marks the text is spread evenly over their audio. The last stretch ends
    with the audio received when the audio is complete; otherwise at least as far as the
    speaking rate seen so far (or a typical one) says its words take.
    """
    if heard_ms <= 0 or received_ms <= 0 or not text:
        return "", text
    if audio_done and heard_ms >= received_ms:
        return text, ""
    points = [(0, 0.0)] + [m for m in (marks or []) if 0 < m[0] < len(text)]
    last_offset, last_ms = points[-1]
    if audio_done:
        end_ms = max(received_ms, last_ms)
    else:
        per_char = last_ms / last_offset if last_offset and last_ms else TYPICAL_MS_PER_CHAR
        end_ms = max(received_ms, last_ms + (len(text) - last_offset) * per_char)
    if heard_ms >= end_ms:
        return text, ""
    bounds = [*points, (len(text), end_ms)]
    cut = len(text)
    for (offset, start_ms), (next_offset, next_ms) in pairwise(bounds):
        if heard_ms < next_ms:
            share = (heard_ms - start_ms) / (next_ms - start_ms) if next_ms > start_ms else 1.0
            cut = offset + round((next_offset - offset) * max(0.0, share))
            break
    while 0 < cut < len(text) and not text[cut - 1].isspace() and not text[cut].isspace():
        cut += 1  # finish the word being spoken
    return text[:cut].rstrip(), text[cut:].lstrip()
