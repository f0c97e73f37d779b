"""Lightweight timestamps in the hot paths, attached from the outside.

The benchmarks must not measure their own overhead, so each hook only appends a
`time.perf_counter()` stamp (and a few ints) to a list; everything else is worked out
after the run. The hooks wrap, on the instance only:
- the SDK connection's `send_raw` / `recv_bytes` (when a message leaves / arrives);
- the engine's `send_audio` (the capture time the audio worker stamped on each block);
and observe, through the audio worker's public render observers, what each output
callback handed to the device and when its first sample reaches the DAC (from
PortAudio's output timestamp).
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from bench.world import Events
from voice_tui.audio.render_observer import ItemRun, RenderedBlock
from voice_tui.audio.worker import AudioWorker
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent, AudioChunk
from voice_tui.runtime import Runtime

APPEND_PREFIX = '{"type":"input_audio_buffer.append"'
BYTES_PER_S = 24_000 * 2  # the engine's audio: 24 kHz pcm16 mono
_HEAD = 120  # server events name their type near the start: look no further


@dataclass(slots=True)
class WireTap:
    """Stamps on the SDK connection: appends written, server events received."""

    appends_sent: list[float] = field(default_factory=list)
    mic_to_wire_s: list[float] = field(default_factory=list)  # from the block's newest sample
    mic_oldest_to_wire_s: list[float] = field(default_factory=list)  # from its oldest sample
    mic_span_s: list[float] = field(default_factory=list)  # audio per append (batched: more)
    speech_started_at: list[float] = field(default_factory=list)
    speech_stopped_at: list[float] = field(default_factory=list)
    server_processing_ms: list[float] = field(default_factory=list)
    last_recv: float = 0.0
    unmatched_appends: int = 0
    _captured: deque[tuple[float, float]] = field(default_factory=deque)  # (newest, span)

    def attach_backend(self, backend: Any) -> None:
        """Every connection the backend opens from now on is tapped."""
        connect: Callable[[], Awaitable[AsyncRealtimeConnection]] = backend.connect

        async def tapped_connect() -> AsyncRealtimeConnection:
            conn = await connect()
            self.attach_connection(conn)
            return conn

        backend.connect = tapped_connect

    def attach_connection(self, conn: AsyncRealtimeConnection) -> None:
        send_raw = conn.send_raw
        recv_bytes = conn.recv_bytes

        async def tapped_send(data: bytes | str) -> None:
            await send_raw(data)
            if isinstance(data, str) and data.startswith(APPEND_PREFIX):
                now = time.perf_counter()
                self.appends_sent.append(now)
                if self._captured:
                    newest, span = self._captured.popleft()
                    self.mic_to_wire_s.append(now - newest)
                    self.mic_oldest_to_wire_s.append(now - newest + span)
                    self.mic_span_s.append(span)
                else:
                    self.unmatched_appends += 1

        async def tapped_recv() -> bytes:
            data = await recv_bytes()
            now = self.last_recv = time.perf_counter()
            head = data[:_HEAD]
            if b'"input_audio_buffer.speech_started"' in head:
                self.speech_started_at.append(now)
            elif b'"input_audio_buffer.speech_stopped"' in head:
                self.speech_stopped_at.append(now)
            elif b'"response.done"' in head:
                self._server_time(data)
            return data

        conn.send_raw = tapped_send  # type: ignore[method-assign]
        conn.recv_bytes = tapped_recv  # type: ignore[method-assign]

    def attach_engine(self, engine: ConversationEngine) -> None:
        """Remember each block's capture time, in the order the engine queues it."""
        send_audio = engine.send_audio

        def tapped_send_audio(pcm: bytes, captured_at: float | None = None) -> bool:
            sent = send_audio(pcm, captured_at)
            # Queued, not yet written (the link's sender task runs later on this loop).
            if sent and captured_at is not None:
                self._captured.append((captured_at, len(pcm) / BYTES_PER_S))
            return sent

        engine.send_audio = tapped_send_audio  # type: ignore[method-assign]

    def _server_time(self, data: bytes) -> None:
        try:
            metadata = json.loads(data)["response"].get("metadata") or {}
            self.server_processing_ms.append(float(metadata["server_processing_ms"]))
        except (ValueError, KeyError, TypeError):
            return


@dataclass(slots=True)
class ChunkSeen:
    item_id: str
    offset: int  # 24 kHz samples of the item before this chunk
    received_at: float  # when recv_bytes returned the delta


class PlaybackTap:
    """Every output block (a render observer on the audio worker), every assistant chunk."""

    def __init__(self, audio: AudioWorker, wire: WireTap) -> None:
        rate = audio.output_rate
        if rate is None:
            raise RuntimeError("no speaker is open")
        self.rate: int = rate
        self.blocks: list[RenderedBlock] = []
        self.chunks: list[ChunkSeen] = []
        self._item_samples: dict[str, int] = {}
        self._wire = wire
        audio.add_render_observer(self.blocks.append)  # list.append: cheap on the callback

    def on_event(self, event: AppEvent) -> None:
        """Engine subscriber: runs during the dispatch of the delta that made the chunk."""
        if isinstance(event, AudioChunk):
            offset = self._item_samples.get(event.item_id, 0)
            self._item_samples[event.item_id] = offset + len(event.pcm) // 2
            self.chunks.append(ChunkSeen(event.item_id, offset, self._wire.last_recv))

    # -- after the run ----------------------------------------------------------------
    @property
    def audible_until(self) -> int:
        """Timeline index just past the last non-silent sample handed over so far."""
        return self.blocks[-1].audible_until if self.blocks else 0

    def _block_of(self, index: int) -> RenderedBlock | None:
        for block in reversed(self.blocks):
            if block.start <= index < block.start + block.frames:
                return block
            if block.start + block.frames <= index:
                return None
        return None

    def dac_time_of(self, index: int) -> float | None:
        """When timeline sample `index` reached (or reaches) the DAC."""
        block = self._block_of(index)
        return None if block is None else block.dac_time + (index - block.start) / self.rate

    def handed_time_of(self, index: int) -> float | None:
        """When the callback that handed sample `index` to the device ran."""
        block = self._block_of(index)
        return None if block is None else block.callback_time

    def runs_of(self, item_id: str) -> list[ItemRun]:
        return [run for block in self.blocks for run in block.runs if run.item_id == item_id]

    def gaps(self) -> list[tuple[float, float]]:
        """Silences inside answers, as (ms into the answer, ms of silence): two runs of an
        item that do not touch on the device timeline had silence played in between."""
        found: list[tuple[float, float]] = []
        for item_id in dict.fromkeys(c.item_id for c in self.chunks):
            for run, following in itertools.pairwise(self.runs_of(item_id)):
                silence = following.start - (run.start + run.count)
                if silence:
                    played = run.item_offset + (0 if run.filler else run.count)
                    found.append((played * 1000 / self.rate, silence * 1000 / self.rate))
        return found

    def timeline_index(self, item_id: str, offset_24k: int) -> int | None:
        """Where sample `offset_24k` of the item went on the device timeline."""
        offset = offset_24k * self.rate // 24_000
        for run in self.runs_of(item_id):
            if not run.filler and run.item_offset <= offset < run.item_offset + run.count:
                return run.start + offset - run.item_offset
        return None


@dataclass
class Taps:
    """A started runtime's wire and speaker tapped, and its events recorded."""

    audio: AudioWorker
    wire: WireTap
    playback: PlaybackTap
    events: Events


async def start_tapped(rt: Runtime, *, tap_engine: bool = False) -> Taps:
    """Tap `rt` (which must have audio) and start its engine. `tap_engine`: also stamp
    each microphone block the engine sends (for mic-to-wire figures)."""
    audio = rt.audio
    if audio is None:
        raise RuntimeError(f"no audio devices: {rt.audio_problem}")
    wire = WireTap()
    wire.attach_backend(rt.backend)
    if tap_engine:
        wire.attach_engine(rt.engine)
    playback = PlaybackTap(audio, wire)
    events = Events.new()
    rt.engine.subscribe(events)
    rt.engine.subscribe(playback.on_event)
    await rt.engine.start()
    return Taps(audio, wire, playback, events)
