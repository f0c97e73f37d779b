"""Fault injection for reliability tests: a plan the LocalServer consults as it runs.

Tests set fields on `server.faults`; each fault fires once (then clears itself) unless
`repeat` is set, so "drop the connection mid-response, then accept the reconnect" is
one assignment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

CLOSE_ABNORMAL = 1011  # server error: the SDK's reconnect logic retries it
CLOSE_GOING_AWAY = 1001
MAX_DURATION_REASON = "Your session hit the maximum duration of 60 minutes."

# How the cloud reports these: response.done with status "failed" and this error.
RESPONSE_FAILURES: dict[str, dict[str, Any]] = {
    "rate_limit_exceeded": {
        "type": "tokens",
        "code": "rate_limit_exceeded",
        "message": "Rate limit reached for the realtime model on tokens per min (TPM): "
        "Limit 40000, Used 39800, Requested 900. Please try again in 1.05s.",
    },
    "insufficient_quota": {
        "type": "insufficient_quota",
        "code": "insufficient_quota",
        "message": "You exceeded your current quota, please check your plan and billing details.",
    },
}


@dataclass(slots=True)
class FaultPlan:
    # Close the socket (code `close_code`) before sending the Nth output_audio.delta.
    close_after_audio_deltas: int | None = None
    close_code: int = CLOSE_ABNORMAL
    # Stop sending anything before the Nth output_audio.delta; the socket stays open.
    stall_after_audio_deltas: int | None = None
    # Refuse the next N handshakes (HTTP 503), or every handshake until a time.
    refuse_connections: int = 0
    refuse_until: float = 0.0  # time.monotonic() deadline
    # Close every session this many seconds after it started: 1001 "maximum duration".
    session_max_s: float | None = None
    repeat: bool = False  # keep the close/stall faults armed after they fired
    # The next N responses fail at once (response.done status "failed") with this error.
    fail_responses: int = 0
    failure: Literal["rate_limit_exceeded", "insufficient_quota"] = "rate_limit_exceeded"
    # Assistant audio items hold this much less than was streamed (a service whose item
    # ends before the client's count of it): a truncate at the end is refused.
    short_items_ms: int = 0

    def should_refuse(self) -> bool:
        if self.refuse_connections > 0:
            self.refuse_connections -= 1
            return True
        return time.monotonic() < self.refuse_until

    def refuse_for(self, seconds: float) -> None:
        self.refuse_until = time.monotonic() + seconds

    def audio_delta_fault(self, deltas_sent: int) -> str | None:
        """'close' or 'stall' when the next audio delta (number deltas_sent + 1) trips one."""
        if self.close_after_audio_deltas is not None and (
            deltas_sent >= self.close_after_audio_deltas
        ):
            if not self.repeat:
                self.close_after_audio_deltas = None
            return "close"
        if self.stall_after_audio_deltas is not None and (
            deltas_sent >= self.stall_after_audio_deltas
        ):
            if not self.repeat:
                self.stall_after_audio_deltas = None
            return "stall"
        return None

    def response_failure(self) -> dict[str, Any] | None:
        if self.fail_responses <= 0:
            return None
        self.fail_responses -= 1
        return dict(RESPONSE_FAILURES[self.failure])
