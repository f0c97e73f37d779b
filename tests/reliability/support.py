"""Shared by the reliability tests: the fast reconnect policy and the engine factory type."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.engine_support import EngineFactory

from voice_tui.core.reliability import ReconnectPolicy

FAST = ReconnectPolicy(
    first_delay_s=0.05,
    max_delay_s=0.4,
    max_attempts=30,
    silence_timeout_s=1.0,
    renew_after_s=None,
)

Factory = EngineFactory


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Poll a condition the engine exposes no event for (e.g. `busy`)."""
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"condition not met within {within_s} s")
