"""What the conversation engine needs from the outside world, as small protocols.

The engine knows nothing of sound cards; the audio engine knows nothing of the
network. They meet here: the audio worker implements `PlaybackSink`, and the
runtime feeds microphone frames to `ConversationEngine.send_audio`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voice_tui.core.events import AudioChunk


@dataclass(frozen=True, slots=True)
class HeardAudio:
    """How much of one assistant audio item the user actually heard."""

    item_id: str
    content_index: int
    heard_ms: int  # measured at the output device (latency-corrected)
    received_ms: int  # audio of this item received from the server so far
    finished: bool  # the whole item had already been played out (all of it had come)


class PlaybackSink(Protocol):
    """Plays assistant audio and knows how much of it has been heard."""

    def play(self, chunk: AudioChunk) -> None:
        """Queue a chunk; never blocks the caller."""

    def end_item(self, item_id: str) -> None:
        """No more audio will come for `item_id`. Until this is said, a queue that runs
        dry mid-item is a gap in it (an underrun), not its end."""

    def interrupt(self) -> HeardAudio | None:
        """Stop at once (short fade), flush the queue, drop the rest of the current
        response, and say what was heard of the item that was playing, or that ran
        dry with more of it to come (None if nothing was playing or due)."""

    def heard(self, item_id: str) -> int:
        """Milliseconds of `item_id` heard so far."""

    def is_playing(self) -> bool:
        """True while queued or in-flight audio has not yet reached the device."""


class NullPlayback:
    """A sink for text mode and headless runs: nothing is heard, nothing plays."""

    def play(self, chunk: AudioChunk) -> None:
        return None

    def end_item(self, item_id: str) -> None:
        return None

    def interrupt(self) -> HeardAudio | None:
        return None

    def heard(self, item_id: str) -> int:
        return 0

    def is_playing(self) -> bool:
        return False
