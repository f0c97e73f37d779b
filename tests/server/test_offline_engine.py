"""The server with its default parts: the offline engine (pocketsphinx, espeak-ng)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from voice_tui.config.schema import Settings
from voice_tui.offline import build_components
from voice_tui.server.app import start_server

from .support import TOOLS, espeak_pcm, open_client, silence, stream_audio


async def test_spoken_question_gets_a_spoken_answer(tmp_path: Path) -> None:
    async with await start_server(build_components(Settings())) as server:
        assert server.components.recognizer is not None
        assert server.components.synthesizer is not None
        async with open_client(server) as client:
            await client.send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "tools": TOOLS,
                        "audio": {"input": {"transcription": {"model": "pocketsphinx"}}},
                    },
                }
            )
            await client.until("session.updated")
            speech = espeak_pcm("What time is it?", tmp_path)
            await stream_audio(client, silence(500) + speech + silence(1000))
            stopped = await client.until("input_audio_buffer.speech_stopped", wait_s=30)
            assert stopped["audio_end_ms"] >= 500 + len(speech) // 48
            heard = await client.until(
                "conversation.item.input_audio_transcription.completed", wait_s=30
            )
            assert heard["transcript"].strip()
            done = (await client.until("response.done", wait_s=60))["response"]
            assert done["status"] == "completed"
            assert float(done["metadata"]["server_processing_ms"]) > 0
            first = done["output"][0]
            if first["type"] == "function_call":  # the time tool, via a real function call
                assert first["name"] == "get_current_time"
                return
            pcm = b"".join(
                base64.b64decode(e["delta"]) for e in client.of("response.output_audio.delta")
            )
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
            assert len(samples) > 24_000  # more than a second of speech
            assert 20 * np.log10(np.sqrt(np.mean(samples**2))) > -40  # and not silence
            assert first["content"][0]["transcript"].strip()
