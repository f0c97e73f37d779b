"""Run as a subprocess by the kill -9 tests: writes turns through the real Journal (and
audio through the real Recorder), reporting each one done on stdout, until killed.

    python journal_writer.py DIR [--record]
"""

from __future__ import annotations

import sys
from pathlib import Path

from voice_tui.core.conversation import Role, Turn
from voice_tui.journal.journal import Journal, SessionMeta
from voice_tui.journal.recorder import ASSISTANT, USER, Recorder


def turn_text(n: int) -> str:
    # Long enough that a kill often lands mid-write if it can.
    return f"turn {n}: " + " ".join(f"word{n}-{i}" for i in range(400))


def block(n: int, side: str) -> bytes:
    value = (n % 100) + (0 if side == USER else 1000)
    return value.to_bytes(2, "little", signed=True) * 480  # 20 ms at 24 kHz


def main() -> None:
    directory = Path(sys.argv[1])
    record = "--record" in sys.argv
    journal = Journal.open(directory, SessionMeta("local", "offline", "Assistant"))
    recorder = Recorder.open(directory, journal.session_id) if record else None
    print(f"session {journal.session_id}", flush=True)
    n = 0
    while True:
        role = Role.USER if n % 2 == 0 else Role.ASSISTANT
        journal.append_turn(Turn(role, f"item_{n}", turn_text(n), started_at=float(n)))
        if recorder is not None:
            recorder.add_user(block(n, USER))
            recorder.add_assistant(block(n, ASSISTANT))
            recorder.drain()
            print(f"audio {n + 1}", flush=True)
        print(f"turn {n + 1}", flush=True)
        n += 1


if __name__ == "__main__":
    main()
