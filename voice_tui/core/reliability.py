"""How the engine keeps a conversation alive: reconnect timing and failure kinds.

A dropped connection is retried with exponential backoff and jitter (so many clients
dropped together do not reconnect in lockstep); a failure retrying cannot fix (a bad
key, no quota, an unknown model) stops at once and says what to change.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

SESSION_LIMIT_S = 60 * 60.0  # OpenAI closes a Realtime session after an hour (1001)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.3  # each delay is spread by +/- this fraction
    max_attempts: int = 12  # then the engine gives up and says so
    # No server event for this long while one is expected: the server went silent.
    silence_timeout_s: float = 15.0
    # Renew the session (new connection, conversation restored) at the first turn
    # boundary after this long, before the server's hard limit; None: never.
    renew_after_s: float | None = SESSION_LIMIT_S - 5 * 60.0
    rate_limit_retries: int = 3  # a response failed for rate limiting: ask again


def backoff_delays(policy: ReconnectPolicy, rng: random.Random | None = None) -> Iterator[float]:
    """Delays before each reconnect attempt: first, first*factor, ... capped, jittered."""
    rng = rng or random.Random()
    delay = policy.first_delay_s
    for _ in range(policy.max_attempts):
        spread = delay * policy.jitter
        yield max(0.0, delay + rng.uniform(-spread, spread))
        delay = min(delay * policy.factor, policy.max_delay_s)


class FailureKind(enum.Enum):
    RATE_LIMITED = "rate_limited"  # back off, then ask again
    FATAL = "fatal"  # retrying cannot help: the user must change something
    OTHER = "other"  # this response failed; the conversation goes on


_FATAL_CODES = frozenset(
    {
        "insufficient_quota",
        "invalid_api_key",
        "unauthorized",
        "model_not_found",
        "DeploymentNotFound",
        "billing_hard_limit_reached",
        "account_deactivated",
    }
)


def failure_kind(code: str, error_type: str = "") -> FailureKind:
    if code == "rate_limit_exceeded" or error_type == "tokens" or error_type == "requests":
        return FailureKind.RATE_LIMITED
    if code in _FATAL_CODES or error_type in _FATAL_CODES:
        return FailureKind.FATAL
    return FailureKind.OTHER


_RETRY_AFTER = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


def retry_after_s(message: str) -> float | None:
    """The wait a rate-limit message asks for ("Please try again in 1.05s"), if any."""
    match = _RETRY_AFTER.search(message)
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000 if match.group(2).lower() == "ms" else value


def fatal_response_message(code: str, message: str, backend: str, key_setting: str) -> str:
    """One sentence saying what to fix for a fatal response failure."""
    if code == "insufficient_quota" or code == "billing_hard_limit_reached":
        return (
            f"The {backend} account has no quota left ({message.rstrip('.')}); "
            "add credit or check the plan and billing, then start again."
        )
    if code in ("invalid_api_key", "unauthorized"):
        return f"The {backend} server rejected the API key; check {key_setting}."
    return f"The {backend} server stopped the conversation: {message}"
