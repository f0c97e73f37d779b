"""--record: two WAV files per session, written off the hot path, always readable."""

from __future__ import annotations

import asyncio
import threading
import wave
from pathlib import Path

import numpy as np

from voice_tui.backends.select import select_backend
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent, AudioChunk, Notice, TurnCompleted
from voice_tui.core.tools import build_registry
from voice_tui.journal.recorder import ASSISTANT, USER, Recorder


def tone(seconds: float, freq: float, rate: int = 24000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes()


def read_wav(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as wav:
        params = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        return params, wav.readframes(wav.getnframes())


def test_both_sides_recorded_with_the_right_lengths(tmp_path: Path) -> None:
    recorder = Recorder.open(tmp_path / "rec", "20261121T074400Z-0a1b2c3d")
    assert recorder is not None
    mic = tone(1.5, 440)
    answer = tone(0.75, 220)
    for start in range(0, len(mic), 960):  # 20 ms blocks, as the audio worker sends
        recorder.add_user(mic[start : start + 960])
    for start in range(0, len(answer), 4800):  # 100 ms deltas, as the server streams
        recorder.on_event(AudioChunk("item_a", 0, "resp_1", answer[start : start + 4800], 0.0))
    recorder.on_event(Notice("not audio"))
    recorder.close()
    recorder.close()  # idempotent

    assert recorder.user_path.name == "20261121T074400Z-0a1b2c3d-user.wav"
    assert recorder.assistant_path.name == "20261121T074400Z-0a1b2c3d-assistant.wav"
    assert read_wav(recorder.user_path) == ((24000, 1, 2), mic)
    assert read_wav(recorder.assistant_path) == ((24000, 1, 2), answer)
    assert recorder.frames_written(USER) == 36000
    assert recorder.frames_written(ASSISTANT) == 18000


def test_headers_are_valid_while_recording(tmp_path: Path) -> None:
    recorder = Recorder.open(tmp_path, "s1")
    assert recorder is not None
    first = tone(0.5, 300)
    recorder.add_user(first)
    assert recorder.drain(timeout=10)
    # Not closed yet: a reader (or a crash now) sees a valid file with what was written.
    assert read_wav(recorder.user_path) == ((24000, 1, 2), first)
    assert read_wav(recorder.assistant_path) == ((24000, 1, 2), b"")
    second = tone(0.25, 600)
    recorder.add_user(second)
    assert recorder.drain(timeout=10)
    assert read_wav(recorder.user_path)[1] == first + second
    recorder.close()


def test_odd_sized_chunks_keep_samples_aligned(tmp_path: Path) -> None:
    recorder = Recorder.open(tmp_path, "s2")
    assert recorder is not None
    audio = tone(0.1, 500)
    recorder.add_assistant(audio[:1001])
    assert recorder.drain(timeout=10)
    recorder.add_assistant(audio[1001:])
    recorder.close()
    assert read_wav(recorder.assistant_path)[1] == audio


def test_adding_from_many_threads_loses_nothing(tmp_path: Path) -> None:
    recorder = Recorder.open(tmp_path, "s3")
    assert recorder is not None
    block = b"\x01\x00" * 480

    def feed() -> None:
        for _ in range(200):
            recorder.add_user(block)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert read_wav(recorder.user_path)[1] == block * 800


def test_adds_after_close_are_ignored(tmp_path: Path) -> None:
    recorder = Recorder.open(tmp_path, "s4")
    assert recorder is not None
    recorder.add_user(b"\x02\x00" * 10)
    recorder.close()
    recorder.add_user(b"\x03\x00" * 10)
    assert read_wav(recorder.user_path)[1] == b"\x02\x00" * 10


def test_unwritable_directory_warns_and_records_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    warnings: list[str] = []
    assert Recorder.open(blocker / "rec", "s5", on_warning=warnings.append) is None
    assert len(warnings) == 1
    assert warnings[0].startswith("Recording disabled: cannot create WAV files in")


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "s6-assistant.wav").write_bytes(b"precious")
    warnings: list[str] = []
    assert Recorder.open(tmp_path, "s6", on_warning=warnings.append) is None
    assert (tmp_path / "s6-assistant.wav").read_bytes() == b"precious"
    assert "File exists" in warnings[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s6-assistant.wav"]


async def test_records_the_assistant_audio_of_a_real_conversation(tmp_path: Path) -> None:
    settings = Settings.model_validate({"backend": {"kind": "local"}})
    backend = select_backend(settings)
    engine = ConversationEngine(settings, backend, build_registry(settings))
    recorder = Recorder.open(tmp_path, "live")
    assert recorder is not None
    received: list[bytes] = []
    answered = asyncio.Event()

    def listen(event: AppEvent) -> None:
        if isinstance(event, AudioChunk):
            received.append(event.pcm)
        if (
            isinstance(event, TurnCompleted)
            and event.turn.role is Role.ASSISTANT
            and event.turn.text
        ):
            answered.set()

    engine.subscribe(recorder.on_event)
    engine.subscribe(listen)
    try:
        await engine.start()
        await engine.send_text("Hello there, who are you?")
        await asyncio.wait_for(answered.wait(), timeout=60)
    finally:
        await engine.close()
        await backend.aclose()
        recorder.close()
    assert received, "the offline engine answers with audio"
    assert read_wav(recorder.assistant_path) == ((24000, 1, 2), b"".join(received))
