"""The audio worker: a thread that owns the streams and talks to the rest of the app
only through callbacks, invoked on this thread (the runtime hops them onto its loop);
only the status of `start()` is also reported on the caller's thread.

`on_mic(pcm, captured_at)`: 24 kHz mono pcm16 and the `time.perf_counter()` time at
which its newest sample was captured (from PortAudio's ADC time).

Microphone path: input callback -> ring -> (this thread) resample to 24 kHz ->
`MicProcessor` (the seam where echo cancellation cleans the signal; identity by
default) -> level meter and, when muted/push-to-talk allow it, `on_mic`.
Speaker path: `play()` (any thread) -> `Player` queue -> output callback.

While the room is quiet (or the echo canceller silences all the microphone hears of the
assistant), microphone audio is handed on in batches of QUIET_BATCH_MS instead of every
block: each hand-over wakes the event loop and sends a message, the largest share of
the CPU a listening client uses. The first block above QUIET_PEAK goes out at once with
the batch before it, so server VAD hears speech as soon as ever, and every block for
HOT_HOLD_S after it goes out on its own (the silence that ends a turn is timed by VAD
as it arrives). Push-to-talk never batches. While the room is quiet and nothing plays
this thread also sleeps through a batch of blocks at a time: the capture ring wakes it
once per batch, or at once for a block above QUIET_PEAK (the callback checks each
block's peak), so a voice is handled as soon as its first block is captured, and from
then on every block as it arrives.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from types import ModuleType
from typing import Final, Protocol, TypeVar

from voice_tui.audio.capture import Capture
from voice_tui.audio.devices import (
    TARGET_RATE,
    AudioDevice,
    choose_device,
    describe,
    list_devices,
)
from voice_tui.audio.level import LevelMeter, MicLevel
from voice_tui.audio.playback import Output
from voice_tui.audio.problems import (
    NO_AUDIO_SERVER,
    NO_INPUT,
    NO_OUTPUT,
    device_failed,
    load_sounddevice,
    open_failed,
)
from voice_tui.audio.render_observer import RenderObserver
from voice_tui.audio.ring import SampleRing, Samples
from voice_tui.audio.status import AudioStats, AudioStatus
from voice_tui.config.schema import AudioSettings
from voice_tui.core.events import AudioChunk
from voice_tui.core.ports import HeardAudio

log = logging.getLogger(__name__)

LEVEL_INTERVAL_S = 1 / 30  # mic level publications (~30 Hz)
HEALTH_INTERVAL_S = 0.25
STALL_S = 1.0  # a started stream silent this long has failed (its server went away)
COMMAND_TIMEOUT_S = 10.0
QUIET_BATCH_MS = 200
QUIET_PEAK = 100  # -50 dBFS: a block peaking below it is a quiet room, not a voice
HOT_HOLD_S = 2.0  # longer than any VAD silence that ends a turn
QUIET_BATCH_BYTES = TARGET_RATE * QUIET_BATCH_MS // 1000 * 2  # pcm16
QUIET_WAIT_S = 0.25  # the longest sleep while quiet (the health check's pace)
SWITCH_INTERVAL_S = 0.001  # measured: a busy thread then delays a callback ~1 ms, not 5


class _Keep:
    """Marker: keep the current device."""


KEEP: Final = _Keep()


class MicProcessor(Protocol):
    """Cleans 24 kHz microphone blocks before they are metered and sent (issue 8: echo
    cancellation, using `AudioWorker.playback_reference` as the far end)."""

    def process(self, samples: Samples, captured_at: float) -> Samples: ...


class AudioWorker:
    """Implements `PlaybackSink`; never raises for missing PortAudio or devices."""

    def __init__(
        self,
        settings: AudioSettings,
        on_mic: Callable[[bytes, float], None],
        on_level: Callable[[MicLevel], None],
        on_status: Callable[[AudioStatus], None],
        on_playback_finished: Callable[[str], None],
        *,
        input_rate: int | None = None,  # force a device rate (tests, benchmarks)
        output_rate: int | None = None,
    ) -> None:
        self._settings = settings
        self._on_mic = on_mic
        self._on_level = on_level
        self._on_status = on_status
        self._on_playback_finished = on_playback_finished
        self._input_rate = input_rate
        self._output_rate = output_rate
        self._input_wanted: str | int | None = settings.input_device
        self._output_wanted: str | int | None = settings.output_device
        self._wake = threading.Event()
        self._commands: queue.SimpleQueue[tuple[Callable[[], AudioStatus], Future[AudioStatus]]]
        self._commands = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: Capture | None = None
        self._output: Output | None = None
        self._meter = LevelMeter()
        self._processor: MicProcessor | None = None
        self._muted = False
        self._ptt = False
        self._talking = False
        self._status = AudioStatus(None, None, None, None, problem=None)
        self._mic_dropped = 0
        self._held = bytearray()  # quiet microphone audio batched for on_mic
        self._hot_until = 0.0  # blocks captured before this go out one by one
        self._quiet = False  # quiet room, speaker asleep: woken once per batch
        self._loud_seen = 0  # the capture ring's loud_blocks when last read
        self._mic_reads = 0
        self._render_observers: list[RenderObserver] = []
        # counters of streams closed since: input overflows, underruns, output
        # underflows, chunks dropped
        self._retired_counts = (0, 0, 0, 0)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> AudioStatus:
        """Open the devices and start the thread; problems come back in the status."""
        if self._thread is not None:
            return self._status
        # The stream callbacks need the GIL within a fraction of a period: with the
        # default 5 ms switch interval any thread busy in Python (the UI, a reply being
        # parsed) delays them by a whole 5 ms output block, and the speaker underflows.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        status = self._open(refresh=False)
        self._thread = threading.Thread(target=self._run, name="audio-worker", daemon=True)
        self._thread.start()
        return status

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=COMMAND_TIMEOUT_S)
            self._thread = None
        self._close_streams()

    def reopen(
        self,
        input_device: str | int | _Keep | None = KEEP,
        output_device: str | int | _Keep | None = KEEP,
    ) -> AudioStatus:
        """Close and reopen the streams (new devices, or the same ones come back),
        re-listing devices so a restarted audio server is seen. Blocks until done (up
        to a few seconds): call it off the event loop, e.g. with asyncio.to_thread."""
        if self._stop.is_set():  # closed for good
            return self._status
        if not isinstance(input_device, _Keep):
            self._input_wanted = input_device
        if not isinstance(output_device, _Keep):
            self._output_wanted = output_device
        return self._in_worker(lambda: self._open(refresh=True))

    @property
    def status(self) -> AudioStatus:
        return self._status

    @property
    def stats(self) -> AudioStats:
        capture, output = self._capture, self._output
        in_over, under, out_under, chunks = self._retired_counts
        return AudioStats(
            mic_samples_dropped=self._mic_dropped,
            device_input_overflows=in_over + (capture.device_overflows if capture else 0),
            underruns=under + (output.player.underruns if output else 0),
            device_output_underflows=out_under + (output.device_underflows if output else 0),
            chunks_dropped=chunks + (output.player.chunks_dropped if output else 0),
            input_rate=capture.rate if capture else None,
            output_rate=output.rate if output else None,
            mic_reads=self._mic_reads,
        )

    # -- controls (any thread) ------------------------------------------------------
    def set_muted(self, muted: bool) -> None:
        self._muted = muted

    def set_ptt(self, enabled: bool) -> None:
        self._ptt = enabled
        self._talking = False

    def set_talking(self, talking: bool) -> None:
        self._talking = talking

    def set_mic_processor(self, processor: MicProcessor | None) -> None:
        self._processor = processor

    @property
    def playback_reference(self) -> SampleRing | None:
        """Every sample handed to the output device (at its rate, silence included),
        stamped with its DAC time: the far end for echo cancellation."""
        return self._output.player.reference if self._output else None

    @property
    def output_latency_s(self) -> float | None:
        """The output stream's reported latency (buffered audio not yet at the DAC)."""
        output = self._output
        return float(output.stream.latency) if output is not None else None

    def add_render_observer(self, observer: RenderObserver) -> None:
        """Call `observer` with every block handed to the speaker (`RenderedBlock`: its
        DAC time, the items' samples in it, where audible audio ends), on the audio
        callback's thread: it must return quickly. Kept across device reopens."""
        self._render_observers.append(observer)
        output = self._output
        if output is not None:
            output.player.add_render_observer(observer)

    def remove_render_observer(self, observer: RenderObserver) -> None:
        if observer in self._render_observers:
            self._render_observers.remove(observer)
        output = self._output
        if output is not None:
            output.player.remove_render_observer(observer)

    @property
    def output_rate(self) -> int | None:
        """The speaker's device rate (the timeline of `RenderedBlock`s), if open."""
        output = self._output
        return output.rate if output is not None else None

    @property
    def jitter_target_ms(self) -> float | None:
        """The playback prebuffer now in force (grows after underruns in a response)."""
        output = self._output
        return output.player.jitter_target_ms if output is not None else None

    @property
    def callback_threads(self) -> dict[int, str]:
        """Native thread ids of the streams' callbacks ("microphone", "speaker") once
        each has run: for per-thread CPU figures."""
        named: dict[int, str] = {}
        for stream, role in ((self._capture, "microphone"), (self._output, "speaker")):
            if stream is not None and stream.thread_id is not None:
                named[stream.thread_id] = role
        return named

    @property
    def speaker_asleep(self) -> bool:
        """The output stream is stopped while nothing plays (it wakes for audio)."""
        output = self._output
        return output is not None and output.asleep

    @property
    def sending(self) -> bool:
        return not self._muted and (not self._ptt or self._talking)

    # -- PlaybackSink (called on the loop thread; never blocks) ----------------------
    def play(self, chunk: AudioChunk) -> None:
        output = self._output
        if output is not None:
            output.player.play(chunk)
            if output.asleep:
                self._wake.set()  # the worker starts the stream

    def end_item(self, item_id: str) -> None:
        output = self._output
        if output is not None:
            output.player.end_item(item_id)

    def interrupt(self) -> HeardAudio | None:
        output = self._output
        return output.player.interrupt() if output is not None else None

    def heard(self, item_id: str) -> int:
        output = self._output
        return output.player.heard(item_id) if output is not None else 0

    def is_playing(self) -> bool:
        output = self._output
        return output.player.is_playing() if output is not None else False

    # -- the thread -----------------------------------------------------------------
    def _run(self) -> None:
        next_level = next_health = time.perf_counter()
        while not self._stop.is_set():
            self._wake.wait(QUIET_WAIT_S if self._quiet else LEVEL_INTERVAL_S)
            self._wake.clear()
            self._run_commands()
            now = time.perf_counter()
            output = self._output
            if output is not None:
                output.tend(now)  # first: a sleeping speaker wakes for queued audio
                if not output.asleep:
                    self._pace(quiet=False)  # the echo path needs every block now
            try:
                self._pump_mic()
            except Exception:  # e.g. a MicProcessor bug: keep the speaker going
                log.exception("microphone processing failed; this block is lost")
            if now >= next_level:
                next_level = now + LEVEL_INTERVAL_S
                if self._meter.pending:
                    self._call(self._on_level, self._meter.take())
            if output is not None:
                output.player.flush_idle(now)
                for item_id in output.player.take_finished(now):
                    self._call(self._on_playback_finished, item_id)
            if now >= next_health:
                next_health = now + HEALTH_INTERVAL_S
                self._check_health(now)
        self._run_commands()

    def _pump_mic(self) -> None:
        capture = self._capture
        if capture is None:
            return
        ring = capture.ring
        loud = ring.loud_blocks != self._loud_seen  # a voice woke us: read at once
        self._loud_seen = ring.loud_blocks
        if self._quiet and not loud and ring.available < ring.wake_after:
            return  # woken for something else: the batch is not complete yet
        got = capture.ring.read()
        if got is None:
            return
        self._mic_reads += 1
        if got.dropped:
            self._mic_dropped += got.dropped
            log.warning("mic audio dropped: %d samples (the worker fell behind)", got.dropped)
        captured_at = capture.captured_at(got)
        pcm = capture.resampler.process(got.samples)
        processor = self._processor
        if processor is not None:
            pcm = processor.process(pcm, captured_at)
        if not len(pcm):
            return
        peak = self._meter.add(pcm)
        if peak > QUIET_PEAK or self._ptt:
            self._hot_until = captured_at + HOT_HOLD_S
        hot = captured_at < self._hot_until
        # While the speaker plays, every block is processed as it comes (the echo
        # canceller's verdict on a barge-in cannot wait for a batch), but what it
        # silenced goes out in batches like a quiet room's.
        output = self._output
        self._pace(quiet=not hot and (output is None or output.asleep))
        if not self.sending:
            self._held.clear()
            return
        self._held += pcm.tobytes()
        # Whole batches first (however many blocks each read held: a busy machine wakes
        # this thread late), then, from the first loud block on, the rest at once.
        held = self._held
        while len(held) >= QUIET_BATCH_BYTES:
            data = bytes(held[:QUIET_BATCH_BYTES])
            del held[:QUIET_BATCH_BYTES]
            self._call(self._on_mic, data, captured_at - len(held) / 2 / TARGET_RATE)
        if hot and held:
            data = bytes(held)
            held.clear()
            self._call(self._on_mic, data, captured_at)

    def _pace(self, quiet: bool) -> None:
        """Wake for every microphone block, or (quiet) once per batch of them."""
        self._quiet = quiet
        capture = self._capture
        if capture is not None:
            capture.ring.wake_after = capture.rate * QUIET_BATCH_MS // 1000 if quiet else 1
            capture.ring.wake_peak = QUIET_PEAK if quiet else None

    def _check_health(self, now: float) -> None:
        failures = []
        capture, output = self._capture, self._output
        if capture is not None and (not capture.active or now - capture.last_callback > STALL_S):
            failures.append(device_failed("microphone", capture.device.name, _why(capture.active)))
            self._retire_capture()
        if (
            output is not None
            and not output.asleep
            and (not output.active or now - output.last_callback > STALL_S)
        ):
            failures.append(device_failed("speaker", output.device.name, _why(output.active)))
            self._retire_output()
        if failures:
            self._publish(
                replace(
                    self._status,
                    input_device=self._capture.device.name if self._capture else None,
                    output_device=self._output.device.name if self._output else None,
                    problem=" ".join(failures),
                )
            )

    def _run_commands(self) -> None:
        while True:
            try:
                action, future = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                future.set_result(action())
            except BaseException as exc:  # handed to the caller, who re-raises
                future.set_exception(exc)

    def _in_worker(self, action: Callable[[], AudioStatus]) -> AudioStatus:
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return action()
        future: Future[AudioStatus] = Future()
        self._commands.put((action, future))
        self._wake.set()
        return future.result(timeout=COMMAND_TIMEOUT_S)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:  # a consumer's bug must not kill the audio thread
            log.exception("audio worker callback %r failed", callback)

    def _publish(self, status: AudioStatus) -> None:
        self._status = status
        self._call(self._on_status, status)

    # -- opening and closing --------------------------------------------------------
    def _open(self, refresh: bool) -> AudioStatus:
        self._close_streams()
        status = self._open_streams(refresh)
        self._publish(status)
        return status

    def _open_streams(self, refresh: bool) -> AudioStatus:
        if not self._settings.enabled:
            return AudioStatus(None, None, None, None, problem=None)
        loaded = load_sounddevice(retry=refresh)
        sd = loaded.module
        if sd is None:
            return AudioStatus(None, None, None, None, problem=loaded.problem)
        try:
            if refresh:  # PortAudio lists devices once; re-list for a restarted server
                sd._terminate()
                sd._initialize()
            devices = list_devices(sd, probe_rates=False)
        except Exception as exc:  # PortAudioError, or PortAudio in a bad state
            return AudioStatus(None, None, None, None, problem=f"{NO_AUDIO_SERVER} ({exc})")
        if not devices:
            return AudioStatus(None, None, None, None, problem=NO_AUDIO_SERVER)
        notices: list[str] = []
        problems: list[str] = []
        in_choice = choose_device(devices, self._input_wanted, "input")
        out_choice = choose_device(devices, self._output_wanted, "output")
        for choice in (in_choice, out_choice):
            if choice.notice:
                notices.append(choice.notice)
        if in_choice.device is not None:
            self._capture = _open_stream(
                "microphone",
                in_choice.device,
                lambda d: Capture(sd, d, self._settings, self._wake, self._input_rate),
                problems,
            )
        if out_choice.device is not None:
            self._output = _open_stream(
                "speaker",
                out_choice.device,
                lambda d: self._make_output(sd, d),
                problems,
            )
        if self._capture is None and self._output is None and not problems:
            problems.append(NO_AUDIO_SERVER)
        elif self._capture is None and not problems:
            problems.append(NO_INPUT)
        elif self._output is None and not problems:
            problems.append(NO_OUTPUT)
        return AudioStatus(
            input_device=self._capture.device.name if self._capture else None,
            output_device=self._output.device.name if self._output else None,
            input_rate=self._capture.rate if self._capture else None,
            output_rate=self._output.rate if self._output else None,
            problem=" ".join(problems) or None,
            notices=tuple(notices),
        )

    def _make_output(self, sd: ModuleType, device: AudioDevice) -> Output:
        output = Output(sd, device, self._settings, self._output_rate)
        for observer in self._render_observers:
            output.player.add_render_observer(observer)
        return output

    def _retire_capture(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            self._remember(capture, None)
            capture.close()

    def _retire_output(self) -> None:
        output, self._output = self._output, None
        if output is not None:
            self._remember(None, output)
            output.close()

    def _remember(self, capture: Capture | None, output: Output | None) -> None:
        """Keep the counters of a stream that goes away."""
        in_over, under, out_under, chunks = self._retired_counts
        if capture is not None:
            in_over += capture.device_overflows
        if output is not None:
            under += output.player.underruns
            out_under += output.device_underflows
            chunks += output.player.chunks_dropped
        self._retired_counts = (in_over, under, out_under, chunks)

    def _close_streams(self) -> None:
        self._retire_capture()
        self._retire_output()


_Stream = TypeVar("_Stream", Capture, Output)


def _open_stream(
    kind: str,
    device: AudioDevice,
    make: Callable[[AudioDevice], _Stream],
    problems: list[str],
) -> _Stream | None:
    stream: _Stream | None = None
    try:
        stream = make(device)
        stream.start()
    except Exception as exc:  # PortAudioError, no usable rate, bad settings
        if stream is not None:
            stream.close()
        problems.append(open_failed(kind, device.name, str(exc)))
        log.warning("could not open %s %s: %s", kind, describe(device), exc)
        return None
    log.info("%s: %s at %d Hz", kind, describe(device), stream.rate)
    return stream


def _why(active: bool) -> str:
    return "its stream stopped" if not active else "no audio for a second"
