"""Issue 5 through real audio devices: "what time is it" played into the virtual
microphone (PulseAudio null sink, scripts/virtual-audio.sh), captured by PortAudio,
answered by the offline engine and played out of the virtual speaker, recorded there."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tests.support.audio_checks import write_wav
from tests.support.engine_events import Events
from tests.support.phrases import TEST_SPEED, TEST_VOICE, words
from tests.support.signals import active_spans, read_raw, record_speaker
from tests.support.virtual_audio import VirtualAudio
from voice_tui.backends.local import LocalBackend
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import ErrorRaised, ToolCallFinished, TurnCompleted, UserTranscriptFinal
from voice_tui.core.tools import build_registry
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.runtime import audio_worker_for
from voice_tui.server.components import SAMPLE_RATE

pytestmark = pytest.mark.audio


async def test_a_question_into_the_microphone_is_answered_out_of_the_speaker(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    question = tmp_path / "question.wav"
    speech = b"".join(EspeakSynthesizer().synthesize("What time is it?", TEST_VOICE, TEST_SPEED))
    write_wav(question, speech + b"\0\0" * SAMPLE_RATE)  # a second of quiet ends the turn
    settings = Settings.model_validate(
        {
            "backend": {"kind": "local"},
            "session": {"silence_duration_ms": 500},
            "tools": {"data_dir": str(tmp_path / "tools")},
        }
    )
    backend = LocalBackend(settings)
    engine = ConversationEngine(settings, backend, build_registry(settings))
    worker = audio_worker_for(engine, settings.audio)
    events = Events()
    try:
        assert worker.start().problem is None
        engine.playback = worker
        engine.subscribe(events)
        await engine.start()
        with record_speaker(virtual_audio, tmp_path / "speaker.raw") as recording:
            player = await asyncio.create_subprocess_exec(
                "paplay", "--device=mic", str(question), env=virtual_audio.env_full()
            )
            await player.wait()
            answer = await events.wait_for(
                TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.text)
            )
            async with asyncio.timeout(30):  # the speaker has played the whole answer
                while worker.is_playing():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        heard = await events.wait_for(UserTranscriptFinal)
        assert "time" in words(heard.transcript)
        tool = await events.wait_for(ToolCallFinished)
        assert tool.name == "get_current_time" and tool.ok
        now = datetime.fromisoformat(json.loads(tool.output)["iso"])
        assert f"{now.hour % 12 or 12}:{now.minute:02d}" in answer.turn.text
        # What came out of the speaker: loud, and as long as the answer's words need.
        speaker = read_raw(recording)
        spans = active_spans(speaker, threshold=300.0)
        assert spans, "the speaker played nothing"
        sounding_ms = (spans[-1][1] - spans[0][0]) * 1000 / SAMPLE_RATE
        assert 40 <= sounding_ms / len(answer.turn.text) <= 120
        loud = speaker[spans[0][0] : spans[-1][1]]
        assert 20 * np.log10(np.sqrt(np.mean(loud**2)) / 32768) > -35
        assert not [e for e in events.all if isinstance(e, ErrorRaised)]
    finally:
        worker.close()
        if engine is not None:
            await engine.close()
        await backend.aclose()
