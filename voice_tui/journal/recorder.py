"""`--record DIR`: both sides of the conversation as WAV files (24 kHz mono pcm16).

Per session: `<session id>-user.wav` (the microphone audio as sent to the model) and
`<session id>-assistant.wav` (the assistant audio as received, including any part cut
off by a barge-in). Callers only enqueue (`SimpleQueue.put`: no lock held, no I/O), so
the audio thread and the event loop never wait for the disk; one writer thread does
the writing.

Crash safety: after every batch the writer thread patches the RIFF and data sizes in
the header (the stdlib `wave` writer does this in `writeframes`) and flushes to the OS,
so after a crash or `kill -9` each file is a valid WAV holding everything written up to
the last batch. `close()` writes the rest and the final sizes.
"""

from __future__ import annotations

import logging
import queue
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from voice_tui.core.events import AppEvent, AudioChunk
from voice_tui.journal.journal import report_warning

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2  # pcm16
CHANNELS = 1

USER = "user"
ASSISTANT = "assistant"

WarningCallback = Callable[[str], None]


@dataclass(slots=True)
class _Track:
    path: Path
    file: BinaryIO
    wav: wave.Wave_write
    pending_odd_byte: bytes = b""  # half a sample left over from an odd-sized chunk
    bytes_written: int = 0

    def write(self, data: bytes) -> None:
        data = self.pending_odd_byte + data
        cut = len(data) - len(data) % SAMPLE_WIDTH
        self.pending_odd_byte = data[cut:]
        if cut:
            self.wav.writeframes(data[:cut])  # also patches the header sizes
            self.bytes_written += cut

    def close(self) -> None:
        try:
            self.wav.close()
        finally:
            self.file.close()


class _Drained:
    """A marker put through the queue: set once everything before it is on disk."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class Recorder:
    """Records both sides of one session. `add_user`/`add_assistant` are safe from any
    thread and never block. `on_warning` may be called from the writer thread."""

    def __init__(
        self,
        tracks: dict[str, _Track],
        on_warning: WarningCallback | None,
    ) -> None:
        self._tracks = tracks
        self._paths = {side: track.path for side, track in tracks.items()}
        self._on_warning = on_warning
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self.warning: str | None = None
        self._thread = threading.Thread(target=self._run, name="voice-tui-recorder", daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls,
        directory: Path,
        session_id: str,
        *,
        on_warning: WarningCallback | None = None,
    ) -> Recorder | None:
        """Create both files; on an OSError warn once and return None (no recording)."""
        tracks: dict[str, _Track] = {}
        try:
            directory = directory.expanduser()
            directory.mkdir(parents=True, exist_ok=True)
            for side in (USER, ASSISTANT):
                path = directory / f"{session_id}-{side}.wav"
                file = path.open("xb")
                wav = wave.open(file, "wb")  # noqa: SIM115 - the writer thread closes it
                wav.setnchannels(CHANNELS)
                wav.setsampwidth(SAMPLE_WIDTH)
                wav.setframerate(SAMPLE_RATE)
                wav.writeframes(b"")  # the header now: a valid (empty) WAV from the start
                file.flush()
                tracks[side] = _Track(path, file, wav)
        except OSError as exc:
            for track in tracks.values():  # no half-made recording left behind
                _close_track_quietly(track)
                track.path.unlink(missing_ok=True)
            message = (
                f"Recording disabled: cannot create WAV files in {directory} "
                f"({exc.strerror or exc}). The conversation goes on"
            )
            report_warning(message, exc, on_warning)
            return None
        return cls(tracks, on_warning)

    @property
    def user_path(self) -> Path:
        return self._paths[USER]

    @property
    def assistant_path(self) -> Path:
        return self._paths[ASSISTANT]

    # -- the hot path: enqueue only --------------------------------------------------

    def add_user(self, pcm: bytes) -> None:
        """Microphone audio as sent (24 kHz mono pcm16)."""
        if not self._closed:
            self._queue.put((USER, pcm))

    def add_assistant(self, pcm: bytes) -> None:
        if not self._closed:
            self._queue.put((ASSISTANT, pcm))

    def on_event(self, event: AppEvent) -> None:
        """Engine listener: records assistant audio as it is received."""
        if isinstance(event, AudioChunk):
            self.add_assistant(event.pcm)

    # -- control -----------------------------------------------------------------------

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything added so far is written (sizes patched, flushed)."""
        marker = _Drained()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, fix the headers, close the files. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():  # a stuck disk: leave the daemon thread behind
            log.warning("the recorder did not finish writing within %.0f s", timeout)

    def frames_written(self, side: str) -> int:
        """Frames of `side` on disk so far (0 once that side failed)."""
        track = self._tracks.get(side)
        return track.bytes_written // SAMPLE_WIDTH if track is not None else 0

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = [self._queue.get()]
                while True:  # take everything already queued: one write per track
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = self._write_batch(batch)
                if stop:
                    return
        finally:
            for track in self._tracks.values():
                _close_track_quietly(track)

    def _write_batch(self, batch: list[object]) -> bool:
        chunks: dict[str, list[bytes]] = {USER: [], ASSISTANT: []}
        markers: list[_Drained] = []
        stop = False
        for item in batch:
            if item is _STOP:
                stop = True
            elif isinstance(item, _Drained):
                markers.append(item)
            elif isinstance(item, tuple):
                side, pcm = item
                chunks[side].append(pcm)
        for side, parts in chunks.items():
            track = self._tracks.get(side)
            if track is None or not parts:
                continue
            try:
                track.write(b"".join(parts))
                track.file.flush()
            except OSError as exc:
                self._fail(side, exc)
        for marker in markers:
            marker.done.set()
        return stop

    def _fail(self, side: str, exc: OSError) -> None:
        track = self._tracks.pop(side)
        _close_track_quietly(track)
        if self.warning is None:
            self.warning = (
                f"Recording stopped: cannot write {track.path} ({exc.strerror or exc}). "
                "The conversation goes on"
            )
            report_warning(self.warning, exc, self._on_warning)


def _close_track_quietly(track: _Track) -> None:
    try:
        track.close()
    except OSError as exc:
        log.debug("closing %s failed: %s", track.path, exc)
