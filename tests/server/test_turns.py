"""Whole turns against the local server through the real openai SDK."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from voice_tui.server.app import LocalServer

from .support import (
    MS_PER_CHAR,
    TOOLS,
    Client,
    FixedRecognizer,
    ScriptedResponder,
    silence,
    stream_audio,
    voiced,
)


def audio_bytes(events: list[dict[str, Any]], item_id: str | None = None) -> bytes:
    return b"".join(
        base64.b64decode(e["delta"])
        for e in events
        if e["type"] == "response.output_audio.delta" and item_id in (None, e["item_id"])
    )


async def test_session_created_then_updated_with_full_session(connect: Any) -> None:
    client: Client = await connect()
    created = client.events[0]
    assert created["session"]["model"] == "gpt-realtime"
    assert created["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    await client.send(
        {
            "type": "session.update",
            "event_id": "evt_1",
            "session": {
                "type": "realtime",
                "instructions": "Be terse.",
                "audio": {"output": {"voice": "cedar"}, "input": {"turn_detection": None}},
            },
        }
    )
    updated = (await client.until("session.updated"))["session"]
    assert updated["instructions"] == "Be terse."
    assert updated["audio"]["output"]["voice"] == "cedar"
    assert updated["audio"]["input"]["turn_detection"] is None
    # untouched settings keep their values
    assert updated["audio"]["output"]["speed"] == 1.0
    assert updated["output_modalities"] == ["audio"]


async def test_typed_turn_streams_audio_with_transcript(connect: Any) -> None:
    client: Client = await connect()
    await client.add_user_text("hello there")
    added = await client.until("conversation.item.added")
    assert added["item"]["content"][0]["text"] == "hello there"
    await client.until("conversation.item.done")
    await client.send({"type": "response.create"})
    events = await client.collect_until("response.done")
    types = [e["type"] for e in events]
    assert types[0] == "response.created"
    assert types.index("response.output_item.added") < types.index("response.content_part.added")
    transcript = "".join(
        e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
    )
    assert transcript == "You said: hello there. That is all."
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == transcript
    # real audio, as long as the tone synthesiser makes it for the spoken text
    pcm = audio_bytes(events)
    spoken_chars = len("You said: hello there.") + len("That is all.")
    assert len(pcm) // 48 == spoken_chars * MS_PER_CHAR
    usage = done["usage"]
    assert usage["output_token_details"]["audio_tokens"] == -(-spoken_chars * MS_PER_CHAR // 50)
    assert usage["input_token_details"]["text_tokens"] > 0
    assert float(done["metadata"]["server_processing_ms"]) > 0
    transcript_done = client.of("response.output_audio_transcript.done")[0]
    assert transcript_done["transcript"] == transcript


async def test_spoken_turn_with_server_vad(connect: Any) -> None:
    client: Client = await connect(audio={"input": {"transcription": {"model": "gpt-transcribe"}}})
    await stream_audio(client, silence(500) + voiced(1200) + silence(900))
    started = await client.until("input_audio_buffer.speech_started")
    # speech begins at 500 ms; the default 300 ms prefix padding is included
    assert 180 <= started["audio_start_ms"] <= 220
    stopped = await client.until("input_audio_buffer.speech_stopped")
    # speech ends at 1700 ms, plus the 500 ms of silence that confirmed it
    assert 2190 <= stopped["audio_end_ms"] <= 2230
    assert stopped["item_id"] == started["item_id"]
    committed = await client.until("input_audio_buffer.committed")
    assert committed["item_id"] == started["item_id"]
    done = await client.until("response.done")
    transcripts = client.of("conversation.item.input_audio_transcription.completed")
    assert transcripts[0]["transcript"] == "what time is it"
    assert transcripts[0]["item_id"] == committed["item_id"]
    deltas = client.of("conversation.item.input_audio_transcription.delta")
    assert (
        "".join(d["delta"] for d in deltas).split()
        == ["what", "time", "is", "it"][: len("".join(d["delta"] for d in deltas).split())]
    )
    reply = done["response"]["output"][0]["content"][0]["transcript"]
    assert reply == "You said: what time is it. That is all."
    # the user item holds exactly the committed span of audio
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    item = (await client.until("conversation.item.retrieved"))["item"]
    pcm = base64.b64decode(item["content"][0]["audio"])
    assert len(pcm) // 48 == stopped["audio_end_ms"] - started["audio_start_ms"]


async def test_tool_round_trip(connect: Any) -> None:
    client: Client = await connect(tools=TOOLS, audio={"input": {"turn_detection": None}})
    await client.ask("what time is it")
    events = await client.collect_until("response.done")
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert args_done["name"] == "get_current_time"
    assert json.loads(args_done["arguments"]) == {"timezone": "UTC"}
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert "".join(deltas) == args_done["arguments"]
    output = events[-1]["response"]["output"]
    assert output[0]["type"] == "function_call"
    assert output[0]["call_id"] == args_done["call_id"]
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": args_done["call_id"],
                "output": '{"time": "10:30"}',
            },
        }
    )
    await client.until("conversation.item.done")
    await client.send({"type": "response.create"})
    done = await client.until("response.done")
    reply = done["response"]["output"][0]["content"][0]["transcript"]
    assert reply == 'The tool says {"time": "10:30"}. Anything else?'


async def test_push_to_talk_commit_and_response(connect: Any) -> None:
    client: Client = await connect(audio={"input": {"turn_detection": None}})
    await stream_audio(client, voiced(800) + silence(1000))
    await client.send({"type": "input_audio_buffer.commit"})
    committed = await client.until("input_audio_buffer.committed")
    assert not client.of("input_audio_buffer.speech_started")  # no VAD in push-to-talk
    await client.send({"type": "response.create"})
    done = await client.until("response.done")
    assert done["response"]["status"] == "completed"
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    item = (await client.until("conversation.item.retrieved"))["item"]
    assert len(base64.b64decode(item["content"][0]["audio"])) == 1800 * 48


async def test_text_modality_streams_text(connect: Any) -> None:
    client: Client = await connect(output_modalities=["text"])
    await client.ask("hi")
    events = await client.collect_until("response.done")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "You said: hi. That is all."
    assert not [e for e in events if e["type"] == "response.output_audio.delta"]
    assert events[-1]["response"]["output_modalities"] == ["text"]


async def test_tool_choice_none_and_named_function(connect: Any, server: LocalServer) -> None:
    client: Client = await connect(tools=TOOLS, tool_choice="none")
    await client.say("what time is it")
    await client.send({"type": "response.create"})
    done = (await client.until("response.done"))["response"]
    assert done["output"][0]["type"] == "message"
    await client.send(
        {
            "type": "response.create",
            "response": {"tool_choice": {"type": "function", "name": "get_current_time"}},
        }
    )
    done = (await client.until("response.done"))["response"]
    assert done["output"][0]["type"] == "function_call"
    responder = server.components.responder
    assert isinstance(responder, ScriptedResponder)
    assert [t["name"] for t in responder.requests[-1].tools] == ["get_current_time"]


async def test_speech_is_recognised_while_the_user_speaks(
    connect: Any, server: LocalServer
) -> None:
    recognizer = server.components.recognizer
    assert isinstance(recognizer, FixedRecognizer)
    client: Client = await connect(audio={"input": {"transcription": {"model": "whisper-1"}}})
    await stream_audio(client, silence(400) + voiced(1500))
    await client.until("input_audio_buffer.speech_started")
    for _ in range(200):  # still speaking, nothing committed, yet the recogniser listens
        if recognizer.streams and recognizer.streams[0].fed > 0:
            break
        await asyncio.sleep(0.01)
    assert recognizer.streams[0].fed > 0
    assert not client.of("input_audio_buffer.committed")
    await stream_audio(client, silence(800))
    committed = await client.until("input_audio_buffer.committed")
    completed = await client.until("conversation.item.input_audio_transcription.completed")
    assert completed["item_id"] == committed["item_id"]
    # one recognition per utterance, fed exactly the committed audio
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    item = (await client.until("conversation.item.retrieved"))["item"]
    assert len(recognizer.streams) == 1
    assert recognizer.streams[0].fed == len(base64.b64decode(item["content"][0]["audio"]))
    # its partials are announced only after the commit
    types = [e["type"] for e in client.events]
    first_delta = types.index("conversation.item.input_audio_transcription.delta")
    assert types.index("input_audio_buffer.committed") < first_delta


async def test_idle_timeout_triggers_a_turn_after_the_reply_played(connect: Any) -> None:
    client: Client = await connect(
        audio={"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}}
    )
    await client.say("hi")
    await client.send({"type": "response.create"})
    done = (await client.until("response.done"))["response"]
    reply_ms = len(audio_bytes(client.events)) // 48
    assert done["status"] == "completed"
    # the user stays silent while the reply plays and for almost the whole timeout
    await stream_audio(client, silence(reply_ms + 4900), chunk_ms=100)
    await client.send({"type": "conversation.item.retrieve", "item_id": "item_marker"})
    await client.until("error")  # everything sent so far has been handled
    assert not client.of("input_audio_buffer.timeout_triggered")
    await stream_audio(client, silence(200), chunk_ms=100)
    triggered = await client.until("input_audio_buffer.timeout_triggered")
    assert triggered["audio_start_ms"] == reply_ms
    assert triggered["audio_end_ms"] == reply_ms + 5000
    committed = await client.until("input_audio_buffer.committed")
    assert committed["item_id"] == triggered["item_id"]
    assert (await client.until("response.done"))["response"]["status"] == "completed"
