"""An AudioWorker in a process of its own (its own PortAudio, its own audio server
environment), reporting as JSON lines. Commands on stdin: `mic` (chunks received so
far), `reopen`, `quit`. Used by the fallback tests."""

from __future__ import annotations

import json
import sys
import threading

from voice_tui.audio.level import MicLevel
from voice_tui.audio.status import AudioStatus
from voice_tui.audio.worker import AudioWorker
from voice_tui.config.schema import AudioSettings


def emit(kind: str, **data: object) -> None:
    print(json.dumps({"kind": kind, **data}), flush=True)


def emit_status(status: AudioStatus) -> None:
    emit(
        "status",
        problem=status.problem,
        input=status.input_device,
        output=status.output_device,
        text_mode=status.text_mode,
        notices=list(status.notices),
    )


def main() -> int:
    chunks = 0
    lock = threading.Lock()

    def on_mic(pcm: bytes, captured_at: float) -> None:
        nonlocal chunks
        with lock:
            chunks += 1

    def on_level(level: MicLevel) -> None:
        return None

    worker = AudioWorker(
        AudioSettings(),
        on_mic=on_mic,
        on_level=on_level,
        on_status=lambda status: emit_status(status),
        on_playback_finished=lambda item: emit("finished", item=item),
    )
    emit("started", status=worker.start().problem)
    for line in sys.stdin:
        command = line.strip()
        if command == "mic":
            with lock:
                emit("mic", chunks=chunks)
        elif command == "reopen":
            worker.reopen()
        elif command == "quit":
            break
    worker.close()
    emit("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
