"""`voice-tui run` on the offline engine, as a user runs it: no key, no network, a WAV in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import wave
from datetime import datetime, timedelta
from pathlib import Path

from tests.support.audio_checks import duration_s, rms_dbfs, write_wav
from tests.support.phrases import TEST_SPEED, TEST_VOICE
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.server.components import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[2]
CLOCK = re.compile(r"\b(\d{1,2}):(\d{2}) (AM|PM)\b")


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1
        return w.readframes(w.getnframes())


def test_voice_tui_run_answers_a_spoken_time_question_offline(tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    speech = b"".join(EspeakSynthesizer().synthesize("What time is it?", TEST_VOICE, TEST_SPEED))
    write_wav(question, b"\0\0" * (SAMPLE_RATE // 2) + speech)
    answer_wav, transcript = tmp_path / "answer.wav", tmp_path / "conversation.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_"))}
    env["PYTHONPATH"] = str(REPO)
    before = datetime.now()
    result = subprocess.run(
        [
            sys.executable, "-m", "voice_tui", "run", "--backend", "local",
            "--input-file", str(question), "--output-file", str(answer_wav),
            "--transcript", str(transcript),
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "time" in result.stdout.lower()
    spoken_clock = CLOCK.search(result.stdout)
    assert spoken_clock, result.stdout
    hour = int(spoken_clock.group(1)) % 12 + (12 if spoken_clock.group(3) == "PM" else 0)
    said = before.replace(hour=hour, minute=int(spoken_clock.group(2)), second=0, microsecond=0)
    off = (said - before.replace(second=0, microsecond=0)) % timedelta(days=1)
    assert min(off, timedelta(days=1) - off) <= timedelta(minutes=2)  # midnight-safe
    audio = read_pcm(answer_wav)
    assert rms_dbfs(audio) > -40 and duration_s(audio) > 1.0
    assert "get_current_time" in transcript.read_text(encoding="utf-8")
