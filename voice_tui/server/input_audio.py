"""The input audio buffer: appends, server VAD, recognition while speaking, idle timeout.

Synchronous state only: `append` returns what happened (speech started, a turn
committed by VAD, an idle timeout) and the session turns that into events and
responses. Times are milliseconds of audio written since the session started, the
Realtime API's `audio_start_ms` / `audio_end_ms` clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voice_tui.server.config import SemanticVad, ServerVad
from voice_tui.server.transcription import Utterance
from voice_tui.server.vad import EnergyVad, VadFactory, VadSettings, VoiceActivityDetector
from voice_tui.server.wire import BYTES_PER_MS, ClientError, audio_ms, new_id

MIN_COMMIT_MS = 100
MAX_BUFFER_MS = 30 * 60 * 1000  # uncommitted audio kept at most (push-to-talk held forever)
# Speech that never pauses long enough is cut into turns, as the cloud's VAD does: at
# the first pause after SOFT_TURN_MS, else hard at MAX_TURN_MS (Whisper's 30 s window),
# so recognition and memory stay bounded and the conversation keeps moving.
SOFT_TURN_MS = 20_000
MAX_TURN_MS = 30_000
_IDLE_KEEP_MS = 1000  # audio kept before speech starts, beyond the prefix padding


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio_start_ms: int
    item_id: str


@dataclass(frozen=True, slots=True)
class Committed:
    """A user turn taken from the buffer: by VAD (speech stopped), by the client, or idle."""

    item_id: str
    pcm: bytes
    live: Utterance | None  # the recognition already fed this audio, if any
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class IdleTimeout:
    turn: Committed
    audio_start_ms: int


Happening = SpeechStarted | Committed | IdleTimeout


class InputAudio:
    def __init__(
        self, begin_live: Callable[[], Utterance | None], make_vad: VadFactory = EnergyVad
    ) -> None:
        self._begin_live = begin_live
        self._make_vad = make_vad
        self.buffer = bytearray()
        self._start_byte = 0  # bytes written before buffer[0], since the session started
        self.vad: VoiceActivityDetector | None = None
        self.speech_item_id: str | None = None
        self._speech_start_ms = 0
        # the utterance being recognised while the user speaks, fed from buffer[live_pos:]
        self._live: Utterance | None = None
        self._live_pos = 0
        self.idle_from_ms: int | None = None  # silence from here on counts as idle

    @property
    def clock_ms(self) -> int:
        return audio_ms(self._start_byte + len(self.buffer))

    def _offset(self, ms: int) -> int:
        """Index into the buffer of audio time `ms`, clamped to the buffer."""
        return max(0, min(ms * BYTES_PER_MS - self._start_byte, len(self.buffer)))

    def configure(self, turn_detection: ServerVad | SemanticVad | None) -> None:
        """New turn detection: VAD restarts from now (None: push-to-talk, no VAD)."""
        settings = (
            None if turn_detection is None else VadSettings.from_turn_detection(turn_detection)
        )
        self.vad = None if settings is None else self._make_vad(settings, self.clock_ms)
        self.speech_item_id = None
        self.close()

    def close(self) -> None:
        if self._live is not None:
            self._live.abort()
            self._live = None

    def append(self, pcm: bytes, idle_timeout_ms: int | None = None) -> list[Happening]:
        """Add audio; `idle_timeout_ms` set when an idle turn may be taken now."""
        if audio_ms(len(self.buffer) + len(pcm)) > MAX_BUFFER_MS:
            raise ClientError(
                "The input audio buffer is full: at most 30 minutes of audio can wait for a "
                "commit. Commit or clear the buffer.",
                code="input_audio_buffer_full",
                param="audio",
            )
        self.buffer.extend(pcm)
        if self.vad is None:
            return []
        happenings: list[Happening] = []
        for event in self.vad.feed(pcm):
            if event.kind == "started":
                happenings.append(self._speech_started(event.audio_ms))
            elif event.kind == "stopped":
                happenings.append(self._speech_stopped(event.audio_ms))
            elif self.speech_item_id is None:
                continue  # a hint for a turn already cut
            elif event.kind == "paused" and event.audio_ms - self._speech_start_ms >= SOFT_TURN_MS:
                happenings += self._cut(event.audio_ms)
            elif self._live is not None and event.kind == "paused":
                self._feed_live(self._offset(event.audio_ms))
                self._live.pause()
            elif self._live is not None:
                self._live.resume()
        if self.speech_item_id is not None and self.clock_ms - self._speech_start_ms >= MAX_TURN_MS:
            happenings += self._cut(self._speech_start_ms + MAX_TURN_MS)
        self._feed_live()
        if self.speech_item_id is None:
            idle = self._idle(idle_timeout_ms)
            if idle is not None:
                return [*happenings, idle]
            self._drop_before(self.clock_ms - self.vad.settings.prefix_padding_ms - _IDLE_KEEP_MS)
        return happenings

    def commit(self) -> Committed:
        """The client commits: everything buffered becomes a turn."""
        length_ms = len(self.buffer) / BYTES_PER_MS
        if length_ms < MIN_COMMIT_MS:
            raise ClientError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {length_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        live = self._feed_live()
        self._live = None
        item_id = self.speech_item_id or new_id("item")
        turn = Committed(item_id, self._take(len(self.buffer)), live, self.clock_ms)
        self._restart_vad()
        return turn

    def clear(self) -> None:
        self._take(len(self.buffer))
        self._restart_vad()

    def reply_played(self, reply_audio_ms: int) -> None:
        """A reply finished; idle time counts from when its audio has played out."""
        self.idle_from_ms = self.clock_ms + reply_audio_ms

    def cancel_idle(self) -> None:
        self.idle_from_ms = None

    # ---- internals ----------------------------------------------------------------

    def _restart_vad(self) -> None:
        if self.vad is not None:
            self.vad = self._make_vad(self.vad.settings, self.clock_ms)
        self.speech_item_id = None
        self.close()

    def _speech_started(self, audio_start_ms: int) -> SpeechStarted:
        # The prefix padding cannot reach back past what the buffer still holds.
        audio_start_ms = max(audio_start_ms, -(-self._start_byte // BYTES_PER_MS))
        self._drop_before(audio_start_ms)
        self.idle_from_ms = None
        self.speech_item_id = new_id("item")
        self._speech_start_ms = audio_start_ms
        self.close()
        self._live = self._begin_live()
        self._live_pos = 0
        return SpeechStarted(audio_start_ms, self.speech_item_id)

    def _cut(self, at_ms: int) -> list[Happening]:
        """End a turn that is too long at `at_ms`; speech still going on starts the next."""
        assert self.vad is not None
        turn = self._speech_stopped(at_ms)
        self.vad = self._make_vad(self.vad.settings, self.clock_ms)
        return [turn]

    def _speech_stopped(self, audio_end_ms: int) -> Committed:
        item_id = self.speech_item_id or new_id("item")
        self.speech_item_id = None
        end = self._offset(audio_end_ms)
        live = self._feed_live(end)
        self._live = None
        return Committed(item_id, self._take(end), live, audio_end_ms)

    def _idle(self, idle_timeout_ms: int | None) -> IdleTimeout | None:
        start = self.idle_from_ms
        if idle_timeout_ms is None or start is None or self.clock_ms - start < idle_timeout_ms:
            return None
        self.idle_from_ms = None
        self._drop_before(start)
        end = self.clock_ms
        turn = Committed(new_id("item"), self._take(len(self.buffer)), None, end)
        self._restart_vad()
        return IdleTimeout(turn, start)

    def _feed_live(self, end: int | None = None) -> Utterance | None:
        """Feed the live utterance the buffer up to `end` (bytes; None: all of it)."""
        live = self._live
        if live is not None:
            # never back: a pause hint may name a point the live audio already passed
            stop = max(self._live_pos, len(self.buffer) if end is None else end)
            live.feed(bytes(self.buffer[self._live_pos : stop]))
            self._live_pos = stop
        return live

    def _take(self, end: int) -> bytes:
        pcm = bytes(self.buffer[:end])
        del self.buffer[:end]
        self._start_byte += end
        return pcm

    def _drop_before(self, ms: int) -> None:
        self._take(self._offset(ms))
