"""`voice-tui run`: WAV in, conversation out, through the real CLI, SDK and server.

The local server runs on its own loop in a thread, as a separate server process would:
the command under test calls `asyncio.run` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import wave
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from core.engine_support import MS_PER_CHAR, phrase_tone, tone_components

from voice_tui.cli import main
from voice_tui.headless import AudioFileError, read_audio
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
def test_read_audio_converts_to_24k_mono(
    tmp_path: Path, rate: int, channels: int, width: int
) -> None:
    path = write_tone_wav(
        tmp_path / "in.wav", 660.0, 500, rate=rate, channels=channels, width=width
    )
    pcm = read_audio(path)
    assert abs(len(pcm) // 2 - RATE // 2) <= 24  # 500 ms at 24 kHz, give or take a ms
    assert abs(dominant_hz(pcm) - 660.0) < 5
    peak = np.abs(np.frombuffer(pcm, dtype="<i2")).max() / 32767
    assert 0.35 < peak < 0.45  # the level survives the conversion


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (
            b"this is a text file, not a recording\n",
            "is not an audio file voice-tui can read \\(Format not recognised\\). It reads WAV",
        ),
        (b"RIFF\x00\x00", "is not an audio file voice-tui can read"),
        (b"", "question.wav is empty, not an audio file"),
    ],
)
def test_read_audio_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "question.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message) as caught:
        read_audio(path)
    assert str(path) in str(caught.value)


def test_the_advice_for_an_unreadable_file_converts_it_to_wav(tmp_path: Path) -> None:
    path = tmp_path / "memo.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))  # AAC: not libsndfile's
    with pytest.raises(AudioFileError, match=re.escape("`ffmpeg -i memo.m4a memo.wav`")):
        read_audio(path)


def tone(ms: int, rate: int, channels: int) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    mono = 0.4 * np.sin(2 * np.pi * 660.0 * t)
    return np.repeat(mono[:, None], channels, axis=1)


@pytest.mark.parametrize(
    ("name", "format", "subtype", "rate", "channels"),
    [
        ("extensible-4ch.wav", "WAVEX", "PCM_24", 48_000, 4),  # WAVE_FORMAT_EXTENSIBLE
        ("extensible-24bit.wav", "WAVEX", "PCM_24", 44_100, 2),
        ("float.wav", "WAV", "FLOAT", 32_000, 1),
        ("speech.flac", "FLAC", "PCM_16", 16_000, 1),
        ("speech.ogg", "OGG", "VORBIS", 44_100, 2),
        ("speech.aiff", "AIFF", "PCM_16", 22_050, 1),
        ("speech.opus", "OGG", "OPUS", 48_000, 1),
        ("speech.mp3", "MP3", "MPEG_LAYER_III", 44_100, 2),
    ],
)
def test_read_audio_takes_what_libsndfile_reads(
    tmp_path: Path, name: str, format: str, subtype: str, rate: int, channels: int
) -> None:
    import soundfile

    path = tmp_path / name
    soundfile.write(path, tone(500, rate, channels), rate, format=format, subtype=subtype)
    pcm = read_audio(path)
    assert abs(len(pcm) // 2 - RATE // 2) <= 24
    assert abs(dominant_hz(pcm) - 660.0) < 5
    peak = np.abs(np.frombuffer(pcm, dtype="<i2")).max() / 32767
    assert 0.3 < peak < 0.55  # 0.4, give or take what a lossy codec does


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs the sox command")
def test_read_audio_takes_soxs_multichannel_24_bit_wav(tmp_path: Path) -> None:
    """What sox writes for more than 2 channels or 24-bit: WAVE_FORMAT_EXTENSIBLE."""
    path = tmp_path / "sox.wav"
    subprocess.run(
        ["sox", "-n", "-r", "48000", "-c", "4", "-b", "24", str(path), "synth", "0.5",
         "sine", "660", "vol", "0.4"],
        check=True,
    )  # fmt: skip
    assert path.read_bytes()[20:22] == b"\xfe\xff"  # the format tag says EXTENSIBLE
    pcm = read_audio(path)
    assert abs(len(pcm) // 2 - RATE // 2) <= 24
    assert abs(dominant_hz(pcm) - 660.0) < 5


def test_read_audio_rejects_empty_and_too_short_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="contains no audio"):
        read_audio(write_tone_wav(tmp_path / "empty.wav", 440.0, 0))
    with pytest.raises(AudioFileError, match="too short"):
        read_audio(write_tone_wav(tmp_path / "short.wav", 440.0, 50))


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
        (lambda d: (d / "notes.wav").write_text("hello") and d / "notes.wav", "not an audio file"),
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


# ------------------------------------------------------------------ the outputs

ROOT = Path(__file__).resolve().parents[1]


def run_command(
    tmp_path: Path,
    *args: str,
    stdout: int = subprocess.PIPE,
    max_file_bytes: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """`voice-tui run ...` in a process of its own, as a user runs it; with
    `max_file_bytes`, every file it writes stops growing there (RLIMIT_FSIZE; Python
    ignores SIGXFSZ, so the write fails with EFBIG), as on a disk that fills up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_"))}
    env.update(
        OPENAI_API_KEY=KEY,
        VOICE_TUI_CONFIG=str(tmp_path / "no-config.toml"),
        VOICE_TUI_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
    )
    # The limit is set by the child itself (no preexec_fn: this process has threads).
    limit = (
        f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, ({max_file_bytes},) * 2); "
        if max_file_bytes is not None
        else ""
    )
    launcher = f"{limit}import runpy; runpy.run_module('voice_tui', run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", launcher, "run", *args],
        env=env,
        cwd=tmp_path,
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=90,
    )


def same_as_input(kind: str, question: Path) -> Path:
    if kind == "path":
        return question
    if kind == "relative":
        (question.parent / "sub").mkdir()
        return question.parent / "sub" / ".." / question.name
    other = question.parent / f"{kind}.wav"
    if kind == "symlink":
        other.symlink_to(question)
    else:
        os.link(question, other)
    return other


@pytest.mark.parametrize("kind", ["path", "relative", "symlink", "hardlink"])
@pytest.mark.parametrize("flag", ["--output-file", "--transcript", "--log-file"])
def test_run_refuses_to_write_over_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, flag: str
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    recording = question.read_bytes()
    target = same_as_input(kind, question)
    assert main(["run", "--input-file", str(question), flag, str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"voice-tui: {flag} {target} is the same file as --input-file {question}: "
        "voice-tui would overwrite your recording; choose another name\n"
    )
    assert captured.out == ""
    assert question.read_bytes() == recording


def test_run_refuses_one_file_for_two_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    out = tmp_path / "out"
    args = ["run", "--input-file", str(question), "--output-file", str(out)]
    assert main([*args, "--transcript", str(out)]) == 2
    assert "--transcript " + str(out) + " is the same file as --output-file" in (
        capsys.readouterr().err
    )


def unwritable_folders(tmp_path: Path) -> list[Path]:
    folders = [Path("/sys")]  # sysfs: nobody, not even root, creates files there
    if os.geteuid() != 0:  # root writes in a 0555 folder all the same
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        folders.append(locked)
    return [f for f in folders if f.is_dir()]


@pytest.mark.parametrize("flag", ["--output-file", "--transcript"])
def test_run_checks_that_it_can_write_before_the_conversation(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    folders = unwritable_folders(tmp_path)
    assert folders
    for folder in folders:
        target = folder / "answer.out"
        code = main(
            ["run", "--backend", "openai", "--base-url", tone_server.base_url,
             "--input-file", str(question), flag, str(target)]
        )  # fmt: skip
        captured = capsys.readouterr()
        assert code == 2
        assert captured.err.startswith(f"voice-tui: {flag} {target}: cannot write in {folder} (")
        assert captured.out == ""  # no conversation was had
        assert not target.exists()


def test_run_refuses_a_read_only_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files all the same")
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    kept = tmp_path / "kept.wav"
    kept.write_bytes(b"keep me")
    kept.chmod(0o444)
    assert main(["run", "--input-file", str(question), "--output-file", str(kept)]) == 2
    assert f"--output-file {kept}: the file is read-only" in capsys.readouterr().err


def test_a_full_disk_leaves_the_old_output_and_no_partial_file(
    tone_server: LocalServer, tmp_path: Path
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    answer = tmp_path / "answer.wav"
    answer.write_bytes(b"the answer of yesterday")
    result = run_command(
        tmp_path,
        "--backend", "openai", "--base-url", tone_server.base_url,
        "--input-file", str(question), "--output-file", str(answer),
        max_file_bytes=16_384,  # the answer is over 100 kB
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "You: hello there"
    assert result.stderr.endswith(
        f"voice-tui: cannot write --output-file {answer}: File too large "
        "(the old file is unchanged)\n"
    )
    assert answer.read_bytes() == b"the answer of yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer.wav", "data", "q.wav"]


def test_an_output_keeps_the_mode_of_the_file_it_replaces(
    tone_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    answer, transcript = tmp_path / "answer.wav", tmp_path / "t.md"
    answer.write_bytes(b"old")
    answer.chmod(0o644)
    code = main(
        ["run", "--backend", "openai", "--base-url", tone_server.base_url,
         "--input-file", str(question), "--output-file", str(answer),
         "--transcript", str(transcript)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert stat.S_IMODE(answer.stat().st_mode) == 0o644
    assert stat.S_IMODE(transcript.stat().st_mode) == 0o600  # a conversation is private
    assert read_output(answer)[0] == 24_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer.wav", "q.wav", "t.md"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_run_into_a_full_stdout_stops_with_one_line(
    tone_server: LocalServer, tmp_path: Path
) -> None:
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    with open("/dev/full", "wb") as full:
        result = run_command(
            tmp_path,
            "--backend", "openai", "--base-url", tone_server.base_url,
            "--input-file", str(question),
            stdout=full.fileno(),
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "voice-tui: cannot write to standard output: No space left on device\n"
    )


def test_outputs_to_devices_are_written_to_not_replaced(
    tone_server: LocalServer, tmp_path: Path
) -> None:
    """`--output-file /dev/null`, `--transcript /dev/stdout`: written as they are (even
    as root, /dev/null must stay a device)."""
    question = write_tone_wav(tmp_path / "q.wav", phrase_tone("hello there"), 600)
    result = run_command(
        tmp_path,
        "--backend", "openai", "--base-url", tone_server.base_url,
        "--input-file", str(question),
        "--output-file", os.devnull, "--transcript", "/dev/stdout",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert "**You**" in result.stdout and "> hello there" in result.stdout  # the Markdown
