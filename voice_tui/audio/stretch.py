"""Lengthening a piece of audio by whole pitch periods, the way a jitter buffer does.

A stream that arrives exactly in real time leaves the player no margin: each piece is
due the moment it arrives, and any delay is a gap. Holding back the first sample would
buy a margin at the cost of the first chunk's latency; instead the player lengthens the
first pieces of an answer a little (WebRTC's NetEq calls it preemptive expand): it
finds the signal's period near the start of a piece and plays one or more periods twice,
cross-fading into the copy so the seam cannot be heard. Voiced speech repeats a pitch
period (2.5-12.5 ms), silence and noise repeat anything; the pitch is unchanged and the
few milliseconds are not heard as slower speech.

`lengthen` only decides where and what: the piece is split at `cut` and `filler` goes in
between, so the player can account for the filler as played but not as the item's own
audio (what was heard of an answer stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voice_tui.audio.ring import Samples

SHORTEST_PERIOD_MS = 2.5  # 400 Hz: the highest voice pitch searched
LONGEST_PERIOD_MS = 12.5  # 80 Hz: the lowest
WINDOW_MS = 5.0  # how much of the signal the period search compares
PERIOD_MATCH = 0.9  # a lag this close to the best match's score counts as a period


@dataclass(frozen=True, slots=True)
class Lengthened:
    """`samples[:cut]`, then `filler`, then `samples[cut:]` plays the piece longer."""

    cut: int
    filler: Samples


def lengthen(samples: Samples, at_most: int, rate: int) -> Lengthened | None:
    """Insert up to `at_most` samples into `samples` (at `rate`) as whole periods, or
    None when the piece is too short for the search or its period longer than
    `at_most`."""
    shortest = round(rate * SHORTEST_PERIOD_MS / 1000)
    window = round(rate * WINDOW_MS / 1000)
    longest = min(round(rate * LONGEST_PERIOD_MS / 1000), (len(samples) - window) // 2)
    if longest < shortest or at_most < shortest:
        return None
    x = samples.astype(np.float32)
    period = _period(x, shortest, longest, window)
    repeats = at_most // period
    if not repeats:
        return None
    # The copy: it starts as the signal one period on and fades into the period itself,
    # so it joins the piece's head (which ends one period on) and the repeat after it
    # (which starts where that period starts) without a step.
    rise = (0.5 - 0.5 * np.cos(np.pi * np.arange(period) / period)).astype(np.float32)
    first = x[period : 2 * period] * (1.0 - rise) + x[:period] * rise
    once = samples[:period]
    filler = np.concatenate([np.round(first).astype(np.int16)] + [once] * (repeats - 1))
    return Lengthened(period, filler)


def _period(x: np.ndarray, shortest: int, longest: int, window: int) -> int:
    """The shortest lag in [shortest, longest] at which the signal's start repeats itself
    about as well as at the best one (normalised cross-correlation): one period, not
    two, when the period is not a whole number of samples. The shortest for silence."""
    head = x[:window]
    lags = np.arange(shortest, longest + 1)
    # Each lag's window of the signal, as rows: sliding_window_view makes no copy.
    views = np.lib.stride_tricks.sliding_window_view(x[: longest + window], window)[lags]
    products = views @ head
    energies = np.einsum("ij,ij->i", views, views) * float(head @ head)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(energies > 0, products / np.sqrt(energies), 0.0)
    first = int(np.argmax(scores >= PERIOD_MATCH * scores.max()))
    while first + 1 < len(scores) and scores[first + 1] > scores[first]:
        first += 1  # up to the top of that peak
    return int(lags[first])
