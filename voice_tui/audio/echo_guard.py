"""The residual-echo guard: what the canceller misses must never reach server VAD.

Per 10 ms frame, while the assistant is audible (the aligned far end was loud within
the echo window), the canceller's output passes only as near-end speech (double-talk
detection), otherwise the frame becomes silence. Near-end speech must be

- clearly louder than the residual echo expected from the far-end energy: the far end
  times a learned "residual return" (canceller output over far end on echo-only
  frames; it rises faster than it decays, so it errs on the strict side), and
- not just echo: the mic must resemble the far end clearly less than echo alone
  usually does (`EchoSimilarity`), which catches the bursts of residual a canceller
  lets through while it re-converges after the echo path changed.

Playback that starts after silence gets a stricter margin for a short warm-up. Once
near-end speech is seen in 2 of 3 frames the gate stays open for a hangover, so a real
interruption reaches VAD whole and quickly.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice_tui.audio.devices import TARGET_RATE
from voice_tui.audio.ring import Samples

FRAME = TARGET_RATE // 100  # 10 ms
FULL_SCALE_POWER = 32768.0**2
TINY = 1e-12


def db(power: float) -> float:
    return 10.0 * math.log10(max(power, TINY))


def power(samples: Samples) -> float:
    """Mean power of int16 samples relative to full scale (0 dB = a full-scale square)."""
    if not len(samples):
        return 0.0
    x = samples.astype(np.float64)
    return float(np.dot(x, x)) / len(x) / FULL_SCALE_POWER


@dataclass(frozen=True, slots=True)
class GuardSettings:
    window_ms: int = 250  # far end looked back over: echo path delay + reverberation
    active_dbfs: float = -55.0  # far end louder than this: the assistant is audible
    margin_db: float = 10.0  # near end must beat the expected residual echo by this
    warmup_ms: int = 300  # after playback starts following silence...
    warmup_extra_db: float = 10.0  # ...the margin is this much larger
    floor_dbfs: float = -50.0  # quieter than this is never near-end speech
    onset_frames: int = 2  # voiced frames among the last `onset_window` open the gate
    onset_window: int = 3
    hangover_ms: int = 300  # the gate stays open this long after the last voiced frame
    initial_residual_db: float = 0.0  # before anything is learned: echo as loud as far
    min_residual_db: float = -45.0  # never trust more suppression than this
    max_residual_db: float = 20.0
    residual_decay_db_per_s: float = 30.0
    # Rising slowly keeps the onset of near-end speech (which ramps up over tens of ms)
    # from being learned as echo before it is loud enough to count as speech.
    residual_attack_db_per_s: float = 100.0
    erle_smoothing: float = 0.02  # weight of each echo-only frame in the ERLE estimate
    # The mic's resemblance to the far end (see `EchoSimilarity`) over this much audio.
    similarity_ms: int = 100
    similarity_ratio: float = 0.75  # below this share of the echo's usual: not only echo
    similarity_min: float = 0.3  # a usual resemblance below this is no evidence either way
    similarity_smoothing: float = 0.05  # weight of each echo-only block in the usual one
    similarity_every: int = 5  # blocks between measurements of the usual resemblance


def resemblance(x: npt.NDArray[np.float64], far: npt.NDArray[np.float64]) -> float:
    """The largest normalised cross-correlation of `x` with any stretch of `far` as long
    as `x` (`far` is longer: the lags searched are 0 .. len(far) - len(x)). 1.0: `x`
    is a scaled, delayed copy of part of `far`; near 0: unrelated."""
    w, n = len(x), len(far)
    energy = float(np.dot(x, x))
    if energy <= 0.0 or n < w:
        return 0.0
    size = 1 << (n + w - 1).bit_length()
    cc = np.fft.irfft(np.fft.rfft(far, size) * np.conj(np.fft.rfft(x, size)), size)[: n - w + 1]
    cumulative = np.concatenate([[0.0], np.cumsum(far * far)])
    far_energy = np.maximum(cumulative[w:] - cumulative[:-w], TINY)
    return float(np.max(np.abs(cc) / np.sqrt(far_energy * energy)))


class EchoSimilarity:
    """How much the mic resembles the far end right now, against how much it usually
    does when only echo is heard (a normalised cross-correlation double-talk detector).

    The energy test alone cannot tell near-end speech from a burst of residual echo (the
    canceller re-converging after the echo path changed). But such a burst leaves the
    *mic* signal what it was, a copy of the far end, while a person talking makes it
    resemble the far end much less. In a reverberant room, echo resembles the far end
    only loosely: when the usual resemblance is below `similarity_min`, this test stays
    out of the way and the energy test decides alone."""

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self._w = TARGET_RATE * settings.similarity_ms // 1000
        lags = TARGET_RATE * settings.window_ms // 1000
        self._mic: npt.NDArray[np.float64] = np.zeros(self._w)
        self._far: npt.NDArray[np.float64] = np.zeros(self._w + lags)
        self.usual = 0.0  # learned on echo-only blocks
        self._blocks = 0
        self._now: float | None = None  # this block's resemblance, once measured

    def add(self, far: Samples, mic: Samples) -> None:
        self._far = _shift_in(self._far, far)
        self._mic = _shift_in(self._mic, mic)
        self._blocks += 1
        self._now = None

    def forget_audio(self) -> None:
        """Silence in place of the recent audio (after a gap); `usual` is kept."""
        self._mic[:] = 0.0
        self._far[:] = 0.0
        self._now = None

    def now(self) -> float:
        if self._now is None:
            self._now = resemblance(self._mic, self._far)
        return self._now

    def only_echo(self) -> bool:
        """The mic resembles the far end as much as echo alone usually does."""
        s = self.settings
        return self.usual >= s.similarity_min and self.now() > s.similarity_ratio * self.usual

    def learn(self) -> None:
        """This block was echo only (called for blocks the guard silenced entirely)."""
        if self._now is None and self._blocks % self.settings.similarity_every:
            return  # measuring every block would cost more than it teaches
        self.usual += self.settings.similarity_smoothing * (self.now() - self.usual)


def _shift_in(history: npt.NDArray[np.float64], block: Samples) -> npt.NDArray[np.float64]:
    n = min(len(block), len(history))
    return np.concatenate([history[n:], block[len(block) - n :].astype(np.float64)])


class ResidualEchoGuard:
    """Gates 24 kHz canceller output frame by frame. Worker thread only."""

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = s = settings or GuardSettings()
        self._window: deque[float] = deque(maxlen=max(1, s.window_ms // 10))
        self._recent: deque[bool] = deque(maxlen=s.onset_window)
        self._active_threshold = 10 ** (s.active_dbfs / 10)
        self._floor = 10 ** (s.floor_dbfs / 10)
        self._warmup_frames = s.warmup_ms // 10
        self._hangover_frames = s.hangover_ms // 10
        self._decay = s.residual_decay_db_per_s / 100
        self._attack = s.residual_attack_db_per_s / 100
        self._similarity = EchoSimilarity(s)
        self.reset()

    def reset(self) -> None:
        self._window.clear()
        self._recent.clear()
        self.residual_db = self.settings.initial_residual_db
        self._similarity = EchoSimilarity(self.settings)
        self._active_frames = 0  # frames since the far end became audible
        self._hangover = 0
        self._mic_power = 0.0  # smoothed over echo-only frames, for the ERLE estimate
        self._out_power = 0.0
        self.far_active = False
        self.suppressing = False
        self.frames = 0
        self.suppressed_frames = 0
        self.passed_while_active = 0  # frames let through as near-end speech
        self.vetoed_frames = 0  # loud enough, but the mic was only echo
        self.untrusted_frames = 0  # muted: the far end was incomplete (fail safe)

    def resume(self) -> None:
        """Frames were skipped while the far end was silent (the canceller bypassed):
        forget the audio around the gap, keep what was learned about the echo."""
        self._window.clear()
        self._recent.clear()
        self._hangover = 0
        self._similarity.forget_audio()
        self.far_active = False
        self.suppressing = False

    @property
    def erle_db(self) -> float | None:
        """Echo return loss enhancement (mic over output on echo-only frames)."""
        if self._mic_power <= 0.0:
            return None
        return db(self._mic_power) - db(self._out_power)

    def process(self, far: Samples, mic: Samples, out: Samples, trusted: bool = True) -> Samples:
        """`out` (the canceller's output for `mic`, with `far` its aligned far end),
        with the frames that may only hold residual echo replaced by silence.
        `trusted=False`: part of the far end was missing (the speaker's callback fell
        behind): while the assistant is audible nothing passes, nothing is learned."""
        gated = out.copy()
        self._similarity.add(far, mic)
        silenced = 0
        for start in range(0, len(out), FRAME):
            end = start + FRAME
            f, m, o = power(far[start:end]), power(mic[start:end]), power(out[start:end])
            if not (self._frame(f, m, o) if trusted else self._untrusted_frame(f)):
                gated[start:end] = 0
                silenced += end - start
        if trusted and self.far_active and silenced >= len(out) and power(mic) > self._floor:
            self._similarity.learn()
        return gated

    def _untrusted_frame(self, far: float) -> bool:
        """Fail safe: mute while the assistant is audible (a user who keeps talking
        passes again once the far end is complete: the onset takes two frames)."""
        self.frames += 1
        self._window.append(far)
        active = max(self._window) > self._active_threshold
        if active and not self.far_active:
            self._active_frames = 0
        self.far_active = active
        self._recent.clear()
        self._hangover = 0
        self.suppressing = active
        if active:
            self._active_frames += 1
            self.suppressed_frames += 1
            self.untrusted_frames += 1
        return not active

    def _frame(self, far: float, mic: float, out: float) -> bool:
        """True when the frame passes."""
        s = self.settings
        self.frames += 1
        self._window.append(far)
        far_recent = max(self._window)
        active = far_recent > self._active_threshold
        if active and not self.far_active:
            self._active_frames = 0
        self.far_active = active
        if not active:
            self._recent.clear()
            self._hangover = 0
            self.suppressing = False
            return True
        self._active_frames += 1
        audible = out > self._floor
        expected = far_recent * 10 ** ((self.residual_db + s.margin_db) / 10)
        above_echo = audible and out > expected  # near-end speech, by the usual margin
        if self._active_frames <= self._warmup_frames:
            expected *= 10 ** (s.warmup_extra_db / 10)
        voiced = audible and out > expected and not self._similarity.only_echo()
        self._recent.append(voiced)
        if sum(self._recent) >= s.onset_frames:
            self._hangover = self._hangover_frames
        elif self._hangover > 0:
            self._hangover -= 1
        passes = self._hangover > 0
        if not above_echo and not passes:  # echo only: learn from it
            self._learn(far_recent, mic, out)
        elif above_echo and not voiced:
            self.vetoed_frames += 1
        self.suppressing = not passes
        if passes:
            self.passed_while_active += 1
        else:
            self.suppressed_frames += 1
        return passes

    def _learn(self, far_recent: float, mic: float, out: float) -> None:
        s = self.settings
        observed = db(out) - db(far_recent)
        rising = min(observed, self.residual_db + self._attack)
        residual = max(rising, self.residual_db - self._decay)
        self.residual_db = min(max(residual, s.min_residual_db), s.max_residual_db)
        a = s.erle_smoothing
        self._mic_power += a * (mic - self._mic_power)
        self._out_power += a * (out - self._out_power)
