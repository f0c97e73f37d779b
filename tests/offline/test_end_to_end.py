"""Issue 5 end to end: a spoken "what time is it" through the whole offline engine.

Real parts only: the project's synthesiser makes the question (voice and speed in
tests/support/phrases.py), the engine sends it as a microphone would over the real
openai SDK to the built-in server on 127.0.0.1, pocketsphinx transcribes it, the
built-in responder calls the real get_current_time tool, and espeak-ng speaks the time.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.support.audio_checks import duration_s, rms_dbfs
from tests.support.engine_events import local_engine, silence, speak
from tests.support.phrases import TEST_SPEED, TEST_VOICE, words
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.events import (
    AudioChunk,
    ErrorRaised,
    ToolCallFinished,
    TurnCompleted,
    UserTranscriptFailed,
    UserTranscriptFinal,
)
from voice_tui.offline.tts import EspeakSynthesizer


async def test_spoken_time_question_is_answered_with_the_time_spoken(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "backend": {"kind": "local"},
            "session": {"silence_duration_ms": 500},
            "tools": {"data_dir": str(tmp_path / "tools")},
        }
    )
    async with local_engine(settings) as (engine, events):
        question = b"".join(
            EspeakSynthesizer().synthesize("What time is it?", TEST_VOICE, TEST_SPEED)
        )
        await speak(engine, silence(400) + question + silence(1200))

        heard = await events.wait_for(UserTranscriptFinal)
        assert "time" in words(heard.transcript)

        tool = await events.wait_for(ToolCallFinished)
        assert tool.name == "get_current_time" and tool.ok
        now = datetime.fromisoformat(json.loads(tool.output)["iso"])
        clock = f"{now.hour % 12 or 12}:{now.minute:02d}"

        answer = await events.wait_for(
            TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.text)
        )
        assert clock in answer.turn.text
        assert ("AM" if now.hour < 12 else "PM") in answer.turn.text
        spoken = b"".join(
            c.pcm
            for c in events.all
            if isinstance(c, AudioChunk) and c.item_id == answer.turn.item_id
        )
        assert rms_dbfs(spoken) > -35
        ms_per_char = duration_s(spoken) * 1000 / len(answer.turn.text)
        assert 40 <= ms_per_char <= 120
        assert not [e for e in events.all if isinstance(e, ErrorRaised)]


async def test_a_language_the_recogniser_lacks_is_reported_not_guessed(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "backend": {"kind": "local"},
            "session": {"silence_duration_ms": 500, "transcription_language": "fr"},
            "tools": {"data_dir": str(tmp_path / "tools")},
        }
    )
    async with local_engine(settings) as (engine, events):
        speech = b"".join(EspeakSynthesizer().synthesize("Quelle heure est-il ?", "en", 1.0))
        await speak(engine, silence(400) + speech + silence(1200))
        failed = await events.wait_for(UserTranscriptFailed)
        assert "only understands English" in failed.message
        assert "session.transcription_language" in failed.message
        answer = await events.wait_for(
            TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.text)
        )
        assert "didn't catch that" in answer.turn.text
