"""kill -9 in the middle of a conversation: every turn reported written survives,
and the recordings are valid WAV files holding every block reported written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

from tests.support import script
from tests.support.conversation_writer import question
from tests.support.journal_writer import block, turn_text
from voice_tui.journal.journal import read_session
from voice_tui.journal.recorder import ASSISTANT, USER

REPO = Path(__file__).resolve().parents[2]
WRITER = script("journal_writer.py")
CONVERSATION = script("conversation_writer.py")


def run_and_kill(
    directory: Path,
    *flags: str,
    after: int,
    what: str,
    script: Path = WRITER,
    counted: str | None = None,
) -> tuple[str, int]:
    """Start the writer, wait until it reports `after` units of `what` done, SIGKILL it
    while it keeps writing; return its session id and the last count of `counted`
    (default: `what`) it reported."""
    counted = counted or what
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(directory), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    session_id = ""
    reported = 0
    try:
        for line in child.stdout:
            kind, _, value = line.strip().partition(" ")
            if kind == "session":
                session_id = value
            if kind == counted:
                reported = int(value)
            if kind == what and int(value) >= after:
                child.send_signal(signal.SIGKILL)  # mid-stream: it is still writing
                break
    finally:
        child.kill()
        _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    assert session_id, err
    return session_id, reported


def test_journal_survives_kill_9(tmp_path: Path) -> None:
    session_id, reported = run_and_kill(tmp_path, after=40, what="turn")
    record = read_session(tmp_path / f"{session_id}.jsonl")
    # Every turn reported written is there, intact and in order; at most the one being
    # written at the kill is missing (a truncated last line, skipped).
    assert len(record.turns) >= reported
    for n, turn in enumerate(record.turns):
        assert turn.item_id == f"item_{n}"
        assert turn.text == turn_text(n)
    assert all("truncated" in problem for problem in record.problems)
    assert len(record.problems) <= 1
    assert record.ended_at is None  # it never closed: the journal says so
    assert record.backend == "local"


def test_recordings_are_readable_after_kill_9(tmp_path: Path) -> None:
    session_id, reported = run_and_kill(tmp_path, "--record", after=25, what="audio")
    for side in (USER, ASSISTANT):
        with wave.open(str(tmp_path / f"{session_id}-{side}.wav"), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
            frames = wav.getnframes()
            data = wav.readframes(frames)
        # The header sizes cover at least every block reported, and exactly the data.
        assert frames >= reported * 480
        assert len(data) == frames * 2
        assert frames % 480 == 0
        expected = b"".join(block(n, side) for n in range(frames // 480))
        assert data == expected


def test_journal_survives_kill_9_during_a_real_conversation(tmp_path: Path) -> None:
    # Killed right after the third question went out: its answer is in flight.
    session_id, completed = run_and_kill(
        tmp_path, after=3, what="asked", script=CONVERSATION, counted="completed"
    )
    record = read_session(tmp_path / f"{session_id}.jsonl")
    assert len(record.turns) >= completed >= 5
    user_turns = [t for t in record.turns if t.role.value == "user"]
    assert [t.text for t in user_turns] == [question(k + 1) for k in range(len(user_turns))]
    assert len(user_turns) >= 3  # typed turns are journaled as they are sent
    assert record.turns[0].role.value == "user"
    answers = [t for t in record.turns if t.role.value == "assistant" and t.text]
    assert len(answers) >= 2  # the first two questions were answered before the kill
    assert all("truncated" in problem for problem in record.problems)
    assert record.ended_at is None
    # The assistant's recording is a valid WAV up to its last written batch.
    with wave.open(str(tmp_path / f"{session_id}-assistant.wav"), "rb") as wav:
        frames = wav.getnframes()
        assert frames > 0 and len(wav.readframes(frames)) == frames * 2
