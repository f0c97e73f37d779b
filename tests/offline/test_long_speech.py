"""Issue 13.4: a monologue that never pauses long enough must not stay one growing
utterance. Through the real offline engine (Whisper, Silero, hibari's voice as the
speaker) over the real SDK: the speech is cut into turns of at most 30 s, each one is
transcribed, and the server keeps answering while it recognises."""

from __future__ import annotations

import base64

from openai import AsyncOpenAI

from tests.support.phrases import PHRASES, words
from tests.support.server import Client, stream_audio
from voice_tui.config.schema import Settings
from voice_tui.offline import build_components
from voice_tui.offline.neural_tts import HibariSynthesizer
from voice_tui.server.app import start_server
from voice_tui.server.input_audio import MAX_TURN_MS

GAP = bytes(48 * 150)  # 150 ms between sentences: a breath, not the end of a turn


def monologue(min_ms: int) -> tuple[bytes, str]:
    """The phrase set read aloud over and over, for at least `min_ms`; and its text."""
    voice = HibariSynthesizer()
    once = b"".join(b"".join(voice.synthesize(p, "marin", 1.0)) + GAP for p in PHRASES)
    times = -(-min_ms * 48 // len(once))
    return once * times, " ".join(PHRASES * times)


async def test_a_long_monologue_becomes_several_transcribed_turns() -> None:
    components = build_components(Settings())
    assert components.vad is not None and components.recognizer is not None
    server = await start_server(components=components)
    try:
        sdk = AsyncOpenAI(api_key="unused", base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.until("session.created")
            session = {
                "type": "realtime",
                "audio": {
                    "input": {
                        "transcription": {"model": "whisper-1"},
                        "turn_detection": {
                            "type": "server_vad",
                            "silence_duration_ms": 1000,
                            "create_response": False,
                        },
                    }
                },
            }
            await client.send({"type": "session.update", "session": session})
            await client.until("session.updated")
            speech, text = monologue(65_000)
            await stream_audio(client, speech, chunk_ms=100)
            # While the turns are being recognised, the server still answers at once.
            await client.send({"type": "conversation.item.retrieve", "item_id": "item_marker"})
            await client.until("error", wait_s=30)
            await stream_audio(client, bytes(48 * 1500), chunk_ms=100)
            completed = "conversation.item.input_audio_transcription.completed"
            while not (
                len(client.of("input_audio_buffer.speech_started")) >= 3
                and len(client.of(completed))
                == len(client.of("input_audio_buffer.committed"))
                == len(client.of("input_audio_buffer.speech_started"))
            ):
                await client.recv(wait_s=120)
            ids = [c["item_id"] for c in client.of("input_audio_buffer.committed")]
            done = {e["item_id"]: e["transcript"] for e in client.of(completed)}
            assert set(done) == set(ids)
            for item_id in ids:
                await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
                item = (await client.until("conversation.item.retrieved"))["item"]
                audio = base64.b64decode(item["content"][0]["audio"])
                assert len(audio) // 48 <= MAX_TURN_MS
                assert len(words(done[item_id])) >= 10, done[item_id]
            heard = sum(len(words(t)) for t in done.values())
            assert heard >= 0.8 * len(words(text))
    finally:
        await server.close()
