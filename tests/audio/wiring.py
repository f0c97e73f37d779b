"""An audio worker wired to an engine the way the runtime wires it, for end-to-end tests
that build their own engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voice_tui.audio.worker import AudioWorker
from voice_tui.config.schema import AudioSettings
from voice_tui.core.engine import ConversationEngine


def _ignore(_: object) -> None:
    return None


def wired_worker(
    engine: ConversationEngine,
    settings: AudioSettings,
    *,
    also_finished: Callable[[str], None] | None = None,
) -> AudioWorker:
    """A worker (not started) whose microphone feeds `engine.send_audio` and whose
    finished items reach `engine.playback_finished` (then `also_finished`), on the
    running loop's thread. It becomes the engine's speaker once started."""
    loop = asyncio.get_running_loop()

    def on_mic(pcm: bytes, captured_at: float) -> None:
        loop.call_soon_threadsafe(engine.send_audio, pcm, captured_at)

    def on_finished(item_id: str) -> None:
        loop.call_soon_threadsafe(engine.playback_finished, item_id)
        if also_finished is not None:
            loop.call_soon_threadsafe(also_finished, item_id)

    return AudioWorker(settings, on_mic, _ignore, _ignore, on_finished)
