"""`voice-tui run`: WAV in, conversation out, through the real CLI, SDK and server.

The local server runs on its own loop in a thread, as a separate server process would:
the command under test calls `asyncio.run` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import threading
import wave
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from tests.support.engine import MS_PER_CHAR, phrase_tone, tone_components
from voice_tui.cli import main
from voice_tui.headless import AudioFileError, read_wav
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.chaos import ChaosServer, start_chaos_server

KEY = "sk-headless-0123456789abcdef"
RATE = 24_000


@pytest.fixture(autouse=True)
def _no_cloud_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_DEPLOYMENT",
        "OPENAI_API_VERSION",
    ):
        monkeypatch.delenv(name, raising=False)


S = TypeVar("S", LocalServer, ChaosServer)


@contextlib.contextmanager
def served_from_a_thread(start: Callable[[], Coroutine[Any, Any, S]]) -> Iterator[S]:
    """The server on its own loop in a thread; the command under test runs its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def tone_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with served_from_a_thread(
        lambda: start_server(components=tone_components(), api_key=KEY, models=["gpt-realtime-2.1"])
    ) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        yield server


def write_tone_wav(
    path: Path, freq: float, ms: int, *, rate: int = RATE, channels: int = 1, width: int = 2
) -> Path:
    t = np.arange(rate * ms // 1000) / rate
    wave_f = 0.4 * np.sin(2 * np.pi * freq * t)
    if width == 1:
        data = ((wave_f * 127) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        data = (wave_f * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = (wave_f * (2**23 - 1)).astype("<i4").tobytes()
        data = b"".join(ints[i : i + 3] for i in range(0, len(ints), 4))
    else:
        data = (wave_f * (2**31 - 1)).astype("<i4").tobytes()
    if channels > 1:  # interleave identical channels
        frames = [data[i : i + width] for i in range(0, len(data), width)]
        data = b"".join(f * channels for f in frames)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data)
    return path


def dominant_hz(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / RATE)[int(spectrum.argmax())])


def read_output(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.readframes(wav.getnframes())


# ------------------------------------------------------------------ reading files


@pytest.mark.parametrize(
    ("rate", "channels", "width"),
    [(24_000, 1, 2), (48_000, 2, 3), (16_000, 1, 1), (44_100, 2, 4), (8_000, 1, 2)],
)
def test_read_wav_converts_to_24k_mono(
    tmp_path: Path, rate: int, channels: int, width: int
) -> None:
    path = write_tone_wav(
        tmp_path / "in.wav", 660.0, 500, rate=rate, channels=channels, width=width
    )
    pcm = read_wav(path)
    assert abs(len(pcm) // 2 - RATE // 2) <= 24  # 500 ms at 24 kHz, give or take a ms
    assert abs(dominant_hz(pcm) - 660.0) < 5
    peak = np.abs(np.frombuffer(pcm, dtype="<i2")).max() / 32767
    assert 0.35 < peak < 0.45  # the level survives the conversion


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"this is a text file, not a recording\n", "is not a PCM WAV file \\(file does"),
        (b"hello\n", "is not a PCM WAV file \\(it ends before its header does\\)"),
        (b"", "is not a PCM WAV file \\(it ends before its header does\\)"),
    ],
)
def test_read_wav_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "question.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message):
        read_wav(path)


def test_read_wav_rejects_empty_and_too_short_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="contains no audio"):
        read_wav(write_tone_wav(tmp_path / "empty.wav", 440.0, 0))
    with pytest.raises(AudioFileError, match="too short"):
        read_wav(write_tone_wav(tmp_path / "short.wav", 440.0, 50))


# ------------------------------------------------------------------ the command


def test_run_with_a_tool_round_trip(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(
        tmp_path / "q.wav", phrase_tone("what time is it"), 900, rate=48_000, channels=2, width=3
    )
    answer, transcript = tmp_path / "a.wav", tmp_path / "t.md"
    code = main(
        [
            "run",
            "--backend", "openai",
            "--base-url", tone_server.base_url,
            "--input-file", str(question),
            "--output-file", str(answer),
            "--transcript", str(transcript),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "You: what time is it"
    assert lines[1].startswith("  [tool get_current_time({}) -> {") and lines[1].endswith("(ok)")
    assert lines[2].startswith("Assistant: The tool says {")
    said = lines[2].removeprefix("Assistant: ")
    rate, channels, pcm = read_output(answer)
    assert (rate, channels) == (24_000, 1)
    assert len(pcm) // 48 == MS_PER_CHAR * len(said)  # exactly the spoken answer
    md = transcript.read_text()
    assert "> what time is it" in md and said in md and "get_current_time" in md


def test_run_azure_ga_with_a_tool_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a server that speaks only Azure's GA handshake (/openai/v1/realtime?model=;
    the preview URL gets 410), with every client event checked against the SDK."""
    with served_from_a_thread(
        lambda: start_server(components=tone_components(), api_key=KEY, models=["voice-dep"])
    ) as server:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.azure_endpoint + "/")
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "voice-dep")
        question = write_tone_wav(tmp_path / "q.wav", phrase_tone("what time is it"), 900)
        code = main(["run", "--backend", "azure", "--input-file", str(question)])
        out = capsys.readouterr().out
        assert server.connections_accepted == 1  # only "voice-dep" is deployed there
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "You: what time is it"
    assert lines[1].startswith("  [tool get_current_time({}) -> {") and lines[1].endswith("(ok)")
    assert lines[2].startswith("Assistant: The tool says {")


@pytest.mark.parametrize("mode", ["push_to_talk", "semantic_vad", "server_vad"])
def test_run_in_every_turn_mode(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    code = main(
        [
            "run",
            "--backend", "openai",
            "--base-url", tone_server.base_url,
            "--turn-mode", mode,
            "--input-file", str(question),
        ]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "You: hello there",
        "Assistant: You said: hello there.",
    ]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the espeak-ng command")
def test_run_end_to_end_with_the_offline_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = tmp_path / "question.wav"  # real speech, at espeak's 22.05 kHz
    subprocess.run(["espeak-ng", "-w", str(question), "What time is it?"], check=True)
    answer, transcript = tmp_path / "answer.wav", tmp_path / "out.md"
    code = main(
        [
            "run",
            "--input-file", str(question),
            "--output-file", str(answer),
            "--transcript", str(transcript),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "built-in offline engine" in captured.err  # the auto backend's notice
    out = captured.out.splitlines()
    assert out[0].startswith("You: ") and any(line.startswith("Assistant: ") for line in out)
    rate, channels, pcm = read_output(answer)
    assert (rate, channels) == (24_000, 1) and len(pcm) > 24_000  # over half a second
    assert "**Assistant**" in transcript.read_text()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "notes.wav").write_text("hello") and d / "notes.wav", "not a PCM WAV"),
    ],
)
def test_run_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert main(["run", "--input-file", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_run_output_into_a_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", 440.0, 300)
    code = main(
        ["run", "--input-file", str(question), "--output-file", str(tmp_path / "no" / "a.wav")]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_backend_failure_exits_1(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", 440.0, 300)
    code = main(
        [
            "run",
            "--backend", "openai",
            "--base-url", tone_server.base_url,
            "--model", "gpt-unknown",
            "--input-file", str(question),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "does not know the model 'gpt-unknown'" in err
    assert KEY not in err


def test_run_without_key_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    question = write_tone_wav(tmp_path / "q.wav", 440.0, 300)
    assert main(["run", "--backend", "openai", "--input-file", str(question)]) == 1
    assert "No OpenAI API key" in capsys.readouterr().err


def test_run_debug_log_has_the_handshake_but_never_the_key(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    log = tmp_path / "debug.log"
    code = main(
        [
            "run",
            "--backend", "openai",
            "--base-url", tone_server.base_url,
            "--log-file", str(log),
            "--input-file", str(question),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    text = log.read_text()
    assert "Authorization: Bearer" in text  # websockets logged the header...
    assert KEY not in text  # ...redacted


def test_run_ends_when_the_assistant_ends_the_conversation(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(tmp_path / "bye.wav", phrase_tone("goodbye"), 600)
    code = main(
        ["run", "--backend", "openai", "--base-url", tone_server.base_url,
         "--input-file", str(question)]
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == "You: goodbye"
    assert lines[1].startswith("  [tool end_conversation(") and lines[1].endswith("(ok)")
    assert lines[2:] == ["Assistant: Goodbye, partner!"]


@pytest.fixture
def chaos_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChaosServer]:
    """The tone server with chaos hooks (it keeps what every session received)."""
    with served_from_a_thread(
        lambda: start_chaos_server(tone_components(), api_key=KEY, models=["gpt-realtime-2.1"])
    ) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        yield server


def test_run_voice_flag_beats_the_persona_voice(
    chaos_server: ChaosServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[session]\npersona = "Pirate"\n\n'
        '[[personas]]\nname = "Pirate"\ninstructions = "Arr."\nvoice = "ash"\n'
    )
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    code = main(
        [
            "--config", str(config),
            "run",
            "--backend", "openai",
            "--base-url", chaos_server.base_url,
            "--voice", "verse",
            "--input-file", str(question),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    updates = [
        e
        for events in chaos_server.chaos.received.values()
        for e in events
        if e.get("type") == "session.update"
    ]
    assert updates[0]["session"]["audio"]["output"]["voice"] == "verse"


def test_run_survives_a_dropped_connection(
    chaos_server: ChaosServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos_server.faults.close_after_audio_deltas = 2  # mid-answer
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    code = main(
        [
            "run",
            "--backend", "openai",
            "--base-url", chaos_server.base_url,
            "--input-file", str(question),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Reconnecting" in captured.err and "Reconnected" in captured.err
    lines = captured.out.splitlines()
    assert lines[0] == "You: hello there"
    assert lines[-1].startswith("Assistant: You said:")
    sessions = list(chaos_server.chaos.received.values())
    assert len(sessions) == 2
    restored = [
        e["item"]["content"][0]["text"]
        for e in sessions[1]
        if e.get("type") == "conversation.item.create"
    ]
    assert restored[0] == "hello there"  # the question went along to the new session
