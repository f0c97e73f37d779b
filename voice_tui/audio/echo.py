"""Echo handling for open speakers: what the microphone hears of the assistant must
never reach the server as the user (issue 8).

Three modes (`audio.echo`):
- `aec` (default): WebRTC's AEC3 (pywebrtc-audio) cancels the echo, with the far end
  taken from exactly what the output callback handed to the device and aligned by the
  streams' timestamps (`echo_align`); the residual-echo guard (`echo_guard`) silences
  what it misses unless near-end speech is clearly above the expected echo. While the
  speaker has been silent for longer than any echo lasts, both are bypassed (idle CPU)
  and resume, with what they learned, as soon as the far end is audible again.
- `half-duplex`: the mic sends silence while the assistant is audible (the user
  interrupts by key).
- `off` (headphones): no processor at all.

The processors run on the audio worker thread (AEC3 is not thread-safe); the UI reads
`state`, an immutable snapshot replaced as a whole after every block.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Protocol

from pywebrtc_audio import AudioProcessor

from voice_tui.audio.devices import TARGET_RATE
from voice_tui.audio.echo_align import FarEndAligner
from voice_tui.audio.echo_guard import FRAME, GuardSettings, ResidualEchoGuard, power
from voice_tui.audio.ring import SampleRing, Samples
from voice_tui.config.schema import AudioSettings, EchoMode, NoiseReduction, Settings

HALF_DUPLEX_TAIL_MS = 300  # after the far end falls silent: the room's echo dies out
# AEC3 is bypassed once the far end has been silent this long beyond the alignment
# lead: longer than any echo (acoustic path + reverberation) and the guard's window.
BYPASS_TAIL_MS = 500
QUIET_PEAK = 4  # far-end samples within +-4 LSB (-78 dBFS): the speaker is silent
# After the speaker ran out (an underflow on a busy machine) or the far end was moved,
# the echo path the canceller learned is off for a while: the guard fails safe (mutes
# while the assistant is audible) for this long, past the echo's reverberation.
DISTRUST_MS = 300


class PlaybackTap(Protocol):
    """What echo handling needs from the audio worker."""

    @property
    def playback_reference(self) -> SampleRing | None: ...


@dataclass(frozen=True, slots=True)
class EchoState:
    """For the status bar: the mode, how much echo is removed, and whether the mic is
    being silenced right now because only the assistant's echo is heard."""

    mode: EchoMode
    erle_db: float | None = None  # echo-only frames, mic over what is sent
    suppressing: bool = False
    far_active: bool = False  # the assistant is audible (within the echo window)
    has_reference: bool = True  # False: no speaker stream, nothing to cancel against
    bypassed: bool = False  # the speaker has long been silent: the mic passes unprocessed


@dataclass(frozen=True, slots=True)
class EchoStats:
    """Counters for tests and benchmarks."""

    audio_s: float  # microphone audio processed
    cpu_s: float  # thread CPU time spent processing it
    frames: int  # 10 ms frames, processed or bypassed
    suppressed_frames: int
    passed_while_active: int
    vetoed_frames: int  # loud enough to pass, but the mic only resembled the far end
    resyncs: int  # far-end realignments after the first
    missing_far: int  # far-end samples that were not available
    bypassed_frames: int = 0  # passed unprocessed: the far end had long been silent
    late_frames: int = 0  # muted, fail safe: far end late, or the speaker ran out lately

    @property
    def cpu_share(self) -> float:
        """CPU seconds per second of audio (0.01 = 1% of a core)."""
        return self.cpu_s / self.audio_s if self.audio_s else 0.0


class EchoProcessor(Protocol):
    """A `MicProcessor` (voice_tui.audio.worker) that also reports its state."""

    def process(self, samples: Samples, captured_at: float) -> Samples: ...

    @property
    def state(self) -> EchoState: ...

    @property
    def stats(self) -> EchoStats: ...


class EchoMonitor(Protocol):
    """Sees every block: the mic as captured, its aligned far end, the canceller's
    output and what is sent after the guard (measurements: `echo_metrics`)."""

    def add(self, mic: Samples, far: Samples, cleaned: Samples, sent: Samples) -> None: ...


class EchoCanceller:
    """AEC3 + residual-echo guard; install with `AudioWorker.set_mic_processor`."""

    def __init__(
        self,
        tap: PlaybackTap,
        *,
        lead_ms: int = 20,
        noise_suppression: bool = False,
        guard: GuardSettings | None = None,
        monitor: EchoMonitor | None = None,
        bypass_tail_ms: int | None = BYPASS_TAIL_MS,
    ) -> None:
        """`bypass_tail_ms`: how long past the lead the far end must be silent before
        AEC3 is bypassed (None: never)."""
        self._tap = tap
        self.monitor = monitor
        self._aligner = FarEndAligner(lead_ms=lead_ms)
        self._noise_suppression = noise_suppression
        self._aec = self._new_aec()
        self._guard = ResidualEchoGuard(guard)
        self._state = EchoState("aec")
        self._audio_samples = 0
        self._cpu_s = 0.0
        # Mic samples whose aligned far end was silent, since it was last audible.
        never = bypass_tail_ms is None
        tail_ms = 0 if bypass_tail_ms is None else bypass_tail_ms
        self._bypass_after = sys.maxsize if never else TARGET_RATE * (lead_ms + tail_ms) // 1000
        self._far_quiet = 0
        self._bypassed_samples = 0
        self._distrust = 0  # mic samples left to mute while the assistant is audible
        self._gaps_seen = 0
        self._resyncs_seen = 0

    def _new_aec(self) -> AudioProcessor:
        # The aligner hands over the far end `lead` ahead of the mic: each echo comes
        # that much (plus the acoustic path, which AEC3 estimates itself) after it.
        return AudioProcessor(
            sample_rate=TARGET_RATE,
            echo_cancellation=True,
            noise_suppression=self._noise_suppression,
            stream_delay_ms=self._aligner.lead_ms,
        )

    def process(self, samples: Samples, captured_at: float) -> Samples:
        if not len(samples):
            return samples
        started = time.thread_time()
        ring = self._tap.playback_reference
        if self._aligner.pull(ring):  # a new (or no) speaker stream: start over
            self._aec = self._new_aec()
            self._guard.reset()
            self._far_quiet = 0
        if ring is None:
            self._state = EchoState("aec", has_reference=False)
            return samples
        # Always taken, so the far-end cursor keeps pace with the mic while bypassed.
        far = self._aligner.take(len(samples), captured_at, ring.wait)
        if int(far.max()) > QUIET_PEAK or int(far.min()) < -QUIET_PEAK:
            if self._far_quiet >= self._bypass_after:
                # Resuming: the far end comes `lead` ahead of its echo, so this block
                # is the lead-in AEC3 needs; its filter kept what it had learned.
                self._guard.resume()
            self._far_quiet = 0
        else:
            self._far_quiet += len(samples)
        if self._far_quiet >= self._bypass_after:
            # Nothing played for longer than any echo lasts: nothing to cancel, and
            # the guard would pass everything anyway (its window is all quiet).
            cleaned = gated = samples.copy()
            self._bypassed_samples += len(samples)
            self._state = EchoState("aec", self._guard.erle_db, bypassed=True)
        else:
            cleaned = self._aec.process(samples, far)
            gated = self._guard.process(far, samples, cleaned, trusted=self._trusted(ring))
            g = self._guard
            self._state = EchoState("aec", g.erle_db, g.suppressing, g.far_active)
        self._audio_samples += len(samples)
        self._cpu_s += time.thread_time() - started
        if self.monitor is not None:
            self.monitor.add(samples, far, cleaned, gated)
        return gated

    def _trusted(self, ring: SampleRing) -> bool:
        """Whether this block's far end can be relied on: complete, and no underflow
        or realignment within DISTRUST_MS."""
        a = self._aligner
        if ring.gaps != self._gaps_seen or a.resyncs != self._resyncs_seen:
            self._gaps_seen, self._resyncs_seen = ring.gaps, a.resyncs
            self._distrust = TARGET_RATE * DISTRUST_MS // 1000
        trusted = not a.short and self._distrust <= 0
        self._distrust = max(0, self._distrust - a.last_n)
        return trusted

    @property
    def state(self) -> EchoState:
        return self._state

    @property
    def stats(self) -> EchoStats:
        g, a = self._guard, self._aligner
        bypassed = self._bypassed_samples // FRAME
        return EchoStats(
            self._audio_samples / TARGET_RATE,
            self._cpu_s,
            g.frames + bypassed,
            g.suppressed_frames,
            g.passed_while_active,
            g.vetoed_frames,
            a.resyncs,
            a.missing,
            bypassed,
            g.untrusted_frames,
        )


class HalfDuplexGate:
    """Sends silence while the assistant is audible, and for a short tail after."""

    def __init__(
        self,
        tap: PlaybackTap,
        *,
        tail_ms: int = HALF_DUPLEX_TAIL_MS,
        monitor: EchoMonitor | None = None,
    ) -> None:
        self._tap = tap
        self.monitor = monitor
        self._aligner = FarEndAligner()
        # The guard's notion of "audible" without its double-talk path: nothing passes.
        self._active = 10 ** (GuardSettings().active_dbfs / 10)
        self._tail = TARGET_RATE * tail_ms // 1000
        self._quiet_for = self._tail  # far-end samples since it was last audible
        self._state = EchoState("half-duplex")
        self._audio_samples = 0
        self._suppressed = 0
        self._cpu_s = 0.0

    def process(self, samples: Samples, captured_at: float) -> Samples:
        if not len(samples):
            return samples
        started = time.thread_time()
        ring = self._tap.playback_reference
        self._aligner.pull(ring)
        if ring is None:
            self._state = EchoState("half-duplex", has_reference=False)
            return samples
        far = self._aligner.take(len(samples), captured_at)
        if power(far) > self._active:
            self._quiet_for = 0
        else:
            self._quiet_for += len(samples)
        gating = self._quiet_for < self._tail
        self._state = EchoState("half-duplex", None, gating, gating)
        sent = samples * 0 if gating else samples
        if gating:
            self._suppressed += len(samples)
        self._audio_samples += len(samples)
        self._cpu_s += time.thread_time() - started
        if self.monitor is not None:
            self.monitor.add(samples, far, samples, sent)
        return sent

    @property
    def state(self) -> EchoState:
        return self._state

    @property
    def stats(self) -> EchoStats:
        frames = self._audio_samples // (TARGET_RATE // 100)
        suppressed = self._suppressed // (TARGET_RATE // 100)
        return EchoStats(
            self._audio_samples / TARGET_RATE,
            self._cpu_s,
            frames,
            suppressed,
            0,
            0,
            self._aligner.resyncs,
            self._aligner.missing,
        )


def make_mic_processor(
    settings: AudioSettings, tap: PlaybackTap, monitor: EchoMonitor | None = None
) -> EchoProcessor | None:
    """The processor for `settings.echo` (None for `off`: headphones need none)."""
    if settings.echo == "aec":
        return EchoCanceller(tap, monitor=monitor)
    if settings.echo == "half-duplex":
        return HalfDuplexGate(tap, monitor=monitor)
    return None


def suggested_noise_reduction(settings: Settings) -> NoiseReduction:
    """The service's input noise reduction to ask for: with open speakers (aec) the
    mic is a far-field one, unless the user chose a setting in the config."""
    session = settings.session
    if settings.audio.echo == "aec" and "noise_reduction" not in session.model_fields_set:
        return "far_field"
    return session.noise_reduction
