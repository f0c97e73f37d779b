"""The audio worker's thread meets the engine's loop here, and only here.

The worker calls `mic` and `played_out` on its own thread; each is carried onto the
loop with `call_soon_threadsafe` (never blocking the audio thread), where the engine
is called. Microphone audio the engine actually sent goes on to `on_sent` (the
recorder): push-to-talk drops what is said while the key is up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voice_tui.core.engine import ConversationEngine


class EngineBridge:
    def __init__(
        self,
        engine: ConversationEngine,
        loop: asyncio.AbstractEventLoop,
        on_sent: Callable[[bytes], None] | None = None,
    ) -> None:
        self._engine = engine
        self._loop = loop
        self._on_sent = on_sent

    def mic(self, pcm: bytes, captured_at: float) -> None:
        """A captured block (24 kHz pcm16); worker thread."""
        self._loop.call_soon_threadsafe(self._send, pcm, captured_at)

    def played_out(self, item_id: str) -> None:
        """The speaker played `item_id` to its end; worker thread."""
        self._loop.call_soon_threadsafe(self._engine.playback_finished, item_id)

    def _send(self, pcm: bytes, captured_at: float) -> None:  # loop thread
        if self._engine.send_audio(pcm, captured_at) and self._on_sent is not None:
            self._on_sent(pcm)
