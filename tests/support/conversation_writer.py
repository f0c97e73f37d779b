"""Run as a subprocess by the kill -9 test: a real conversation (engine, SDK, WebSocket,
the local offline server) journaled and recorded, reporting progress until killed.

    python conversation_writer.py DIR

Prints `session ID`, then `completed N` after each journaled turn (N turns so far)
and `asked K` when the K-th question has been sent (its answer is then in flight).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from voice_tui.backends.select import select_backend
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent, TurnCompleted
from voice_tui.core.tools import build_registry
from voice_tui.journal.journal import Journal, SessionMeta
from voice_tui.journal.recorder import Recorder


def question(k: int) -> str:
    return f"Question number {k}: what time is it?"


async def main(directory: Path) -> None:
    settings = Settings.model_validate({"backend": {"kind": "local"}})
    backend = select_backend(settings)
    engine = ConversationEngine(settings, backend, build_registry(settings))
    journal = Journal.open(directory, SessionMeta("local", backend.model, "Assistant"))
    recorder = Recorder.open(directory, journal.session_id)
    assert recorder is not None
    answered = asyncio.Event()
    completed = 0

    def on_event(event: AppEvent) -> None:
        nonlocal completed
        if isinstance(event, TurnCompleted):  # the journal has it on disk already
            completed += 1
            print(f"completed {completed}", flush=True)
            if event.turn.role.value == "assistant" and event.turn.text:
                answered.set()

    engine.subscribe(journal.on_event)
    engine.subscribe(recorder.on_event)
    engine.subscribe(on_event)
    print(f"session {journal.session_id}", flush=True)
    await engine.start()
    k = 0
    while True:
        k += 1
        answered.clear()
        await engine.send_text(question(k))
        print(f"asked {k}", flush=True)
        await asyncio.wait_for(answered.wait(), timeout=60)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
