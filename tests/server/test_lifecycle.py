"""Response lifecycle: cancel, barge-in, truncate, out-of-band, failures, item order."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

import pytest

from tests.support.server import (
    MS_PER_CHAR,
    Client,
    ScriptedResponder,
    ToneSynthesizer,
    hold_replies,
    make_components,
    open_client,
    silence,
    stream_audio,
    voiced,
)
from voice_tui.server import response as response_module
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.response import PulledChunks

SENTENCE_1 = "This is sentence number 1 of a long answer."


async def first_sentence_spoken(client: Client, server: LocalServer) -> dict[str, Any]:
    """Start a long reply and let exactly its first sentence out; returns response.created."""
    gate = hold_replies(server)
    await client.say("tell me something long")
    await client.send({"type": "response.create"})
    created = await client.until("response.created")
    gate.grant(1)
    while True:
        event = await client.until("response.output_audio.delta")
        pcm = b"".join(
            base64.b64decode(e["delta"]) for e in client.of("response.output_audio.delta")
        )
        if len(pcm) // 48 == len(SENTENCE_1) * MS_PER_CHAR:
            assert event["response_id"] == created["response"]["id"]
            return created


async def test_client_cancel(connect: Any, server: LocalServer) -> None:
    client: Client = await connect(audio={"input": {"turn_detection": None}})
    await first_sentence_spoken(client, server)
    await client.send({"type": "response.cancel"})
    done = (await client.until("response.done"))["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"][0]["transcript"] == SENTENCE_1 + " "
    # the item is closed properly before response.done
    types = [e["type"] for e in client.events]
    assert types.index("response.output_item.done") < types.index("response.done")
    # a new response can start right away
    await client.say("hello")
    await client.send({"type": "response.create"})
    assert (await client.until("response.done"))["response"]["status"] == "completed"


async def test_barge_in_cancels_then_truncate(connect: Any, server: LocalServer) -> None:
    client: Client = await connect()
    created = await first_sentence_spoken(client, server)
    await stream_audio(client, voiced(400))
    started = await client.until("input_audio_buffer.speech_started")
    done = (await client.until("response.done"))["response"]
    assert done["id"] == created["response"]["id"]
    assert done["status_details"]["reason"] == "turn_detected"
    item_id = done["output"][0]["id"]
    assert started["item_id"] != item_id
    # the client heard 600 ms of the 1720 ms sentence
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 600,
        }
    )
    truncated = await client.until("conversation.item.truncated")
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 600)
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    item = (await client.until("conversation.item.retrieved"))["item"]
    assert len(base64.b64decode(item["content"][0]["audio"])) == 600 * 48
    kept = item["content"][0]["transcript"]
    assert SENTENCE_1.startswith(kept)
    assert 0 < len(kept) < len(SENTENCE_1) * 0.5


async def test_truncate_beyond_the_audio_is_rejected(connect: Any) -> None:
    client: Client = await connect()
    await client.say("hi")
    await client.send({"type": "response.create"})
    done = (await client.until("response.done"))["response"]
    item = done["output"][0]
    length_ms = (len("You said: hi.") + len("That is all.")) * MS_PER_CHAR
    await client.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "t1",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": length_ms + 20,
        }
    )
    err = (await client.until("error"))["error"]
    assert (
        err["message"]
        == f"Audio content of {length_ms}ms is already shorter than {length_ms + 20}ms"
    )
    assert err["event_id"] == "t1"
    # truncating at the very end is fine and keeps the whole transcript
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": length_ms,
        }
    )
    await client.until("conversation.item.truncated")
    await client.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    retrieved = (await client.until("conversation.item.retrieved"))["item"]
    assert retrieved["content"][0]["transcript"] == "You said: hi. That is all."


async def test_truncating_a_user_item_is_rejected(connect: Any) -> None:
    client: Client = await connect()
    await client.say("hi")
    user_id = client.of("conversation.item.added")[0]["item"]["id"]
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": user_id,
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    err = (await client.until("error"))["error"]
    assert "assistant" in err["message"]


async def test_interrupt_response_false_keeps_speaking(connect: Any, server: LocalServer) -> None:
    client: Client = await connect(
        audio={"input": {"turn_detection": {"type": "server_vad", "interrupt_response": False}}}
    )
    await first_sentence_spoken(client, server)
    await stream_audio(client, voiced(400))
    await client.until("input_audio_buffer.speech_started")
    hold_gate = server.components.responder
    assert isinstance(hold_gate, ScriptedResponder) and hold_gate.gate is not None
    hold_gate.gate.grant(7)
    done = (await client.until("response.done"))["response"]
    assert done["status"] == "completed"


async def test_create_response_false_commits_without_reply(connect: Any) -> None:
    client: Client = await connect(
        audio={"input": {"turn_detection": {"type": "server_vad", "create_response": False}}}
    )
    await stream_audio(client, voiced(600) + silence(700))
    await client.until("input_audio_buffer.committed")
    await client.send({"type": "conversation.item.retrieve", "item_id": "item_none"})
    await client.until("error")  # a marker: everything before it has been processed
    assert not client.of("response.created")


async def test_semantic_vad_eagerness_scales_silence(connect: Any) -> None:
    client: Client = await connect(
        audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}
    )
    await stream_audio(client, voiced(600) + silence(500))
    stopped = await client.until("input_audio_buffer.speech_stopped")
    # speech ended at 600 ms; "high" eagerness waits 350 ms of silence
    assert 940 <= stopped["audio_end_ms"] <= 960


async def test_out_of_band_response_stays_out_of_the_conversation(
    connect: Any, server: LocalServer
) -> None:
    client: Client = await connect()
    await client.say("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["text"],
                "instructions": "Classify the topic.",
                "metadata": {"purpose": "classification"},
            },
        }
    )
    done = (await client.until("response.done"))["response"]
    assert done["conversation_id"] is None
    assert done["metadata"]["purpose"] == "classification"
    assert done["output"][0]["content"][0]["text"] == "You said: hello. That is all."
    assert not [e for e in client.of("conversation.item.added") if e["item"]["role"] == "assistant"]
    responder = server.components.responder
    assert isinstance(responder, ScriptedResponder)
    assert responder.requests[-1].instructions == "Classify the topic."


async def test_response_with_explicit_input_items(connect: Any, server: LocalServer) -> None:
    client: Client = await connect(output_modalities=["text"])
    await client.say("first")
    first_id = client.of("conversation.item.added")[0]["item"]["id"]
    await client.say("second")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "input": [
                    {"type": "item_reference", "id": first_id},
                ],
            },
        }
    )
    done = (await client.until("response.done"))["response"]
    assert done["output"][0]["content"][0]["text"] == "You said: first. That is all."


async def test_responder_error_becomes_a_spoken_turn(connect: Any) -> None:
    client: Client = await connect()
    await client.say("please fail now")
    await client.send({"type": "response.create"})
    done = (await client.until("response.done"))["response"]
    assert done["status"] == "completed"
    transcript = done["output"][0]["content"][0]["transcript"]
    assert transcript == ("Let me check. The chat model failed: connection refused by 127.0.0.1:9")
    assert client.of("response.output_audio.delta")
    # and the session goes on
    await client.say("hello")
    await client.send({"type": "response.create"})
    assert (await client.until("response.done"))["response"]["status"] == "completed"


async def test_max_output_tokens_ends_incomplete(connect: Any) -> None:
    client: Client = await connect(max_output_tokens=30, output_modalities=["text"])
    await client.say("tell me something long")
    await client.send({"type": "response.create"})
    done = (await client.until("response.done"))["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"]["reason"] == "max_output_tokens"
    assert done["usage"]["output_tokens"] >= 30
    assert "sentence number 8" not in done["output"][0]["content"][0]["text"]


async def test_items_insert_delete_and_history_order(connect: Any, server: LocalServer) -> None:
    client: Client = await connect()
    await client.say("b")
    b_id = client.of("conversation.item.added")[-1]["item"]["id"]
    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {
                "id": "item_a",
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "a"}],
            },
        }
    )
    added = await client.until("conversation.item.added")
    assert added["previous_item_id"] is None and added["item"]["id"] == "item_a"
    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_a",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "a2"}],
            },
        }
    )
    added = await client.until("conversation.item.added")
    assert added["previous_item_id"] == "item_a"
    a2_id = added["item"]["id"]
    await client.send({"type": "conversation.item.delete", "item_id": a2_id})
    assert (await client.until("conversation.item.deleted"))["item_id"] == a2_id
    await client.send({"type": "response.create"})
    await client.until("response.done")
    responder = server.components.responder
    assert isinstance(responder, ScriptedResponder)
    history = responder.requests[-1].history
    assert [(m.role, m.content) for m in history] == [("system", "a"), ("user", "b")]
    assert b_id != a2_id
    # a duplicate id is refused
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "id": "item_a",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "again"}],
            },
        }
    )
    assert (await client.until("error"))["error"]["code"] == "item_id_already_exists"


async def test_without_a_synthesizer_replies_are_text() -> None:
    async with (
        await start_server(components=make_components(synthesizer=False)) as server,
        open_client(server) as client,
    ):
        await client.say("hi")
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))["response"]
        assert done["output_modalities"] == ["text"]
        assert done["output"][0]["content"][0]["text"] == "You said: hi. That is all."


async def test_transcription_fails_clearly_without_a_recognizer() -> None:
    async with (
        await start_server(components=make_components(recognizer=False)) as server,
        open_client(server) as client,
    ):
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "transcription": {"model": "whisper-1"},
                            "turn_detection": None,
                        }
                    },
                },
            }
        )
        await client.until("session.updated")
        await stream_audio(client, voiced(500))
        await client.send({"type": "input_audio_buffer.commit"})
        failed = await client.until("conversation.item.input_audio_transcription.failed")
        assert "no speech recogniser" in failed["error"]["message"]
        await client.send({"type": "response.create"})
        done = await asyncio.wait_for(client.until("response.done"), 10)
        assert done["response"]["status"] == "completed"


async def test_cancel_mid_sentence_stops_the_synthesiser(connect: Any, server: LocalServer) -> None:
    synthesizer = server.components.synthesizer
    assert isinstance(synthesizer, ToneSynthesizer)
    synthesizer.chunk_permits = threading.Semaphore(0)
    client: Client = await connect()
    await client.say("hello")
    await client.send({"type": "response.create"})
    await client.until("response.output_audio.delta")  # the first chunk; the next one waits
    await client.send({"type": "response.cancel"})
    done = (await client.until("response.done"))["response"]
    assert done["status"] == "cancelled"
    assert synthesizer.aborted == 0  # its worker thread is still inside next()
    synthesizer.chunk_permits.release()
    for _ in range(200):
        if synthesizer.aborted:
            break
        await asyncio.sleep(0.01)
    assert synthesizer.aborted == 1
    assert len(client.of("response.output_audio.delta")) == 1


class BrokenSynthesizer(ToneSynthesizer):
    """Speaks one chunk, then fails like a crashed speech engine."""

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        yield next(iter(super().synthesize(text, voice, speed)))
        raise RuntimeError("the speech engine crashed")


async def test_a_failing_synthesiser_fails_the_response_not_the_session() -> None:
    components = make_components()
    async with (
        await start_server(
            components=replace(components, synthesizer=BrokenSynthesizer())
        ) as server,
        open_client(server) as client,
    ):
        await client.say("hi")
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))["response"]
        assert done["status"] == "failed"
        assert "speech engine crashed" in done["status_details"]["error"]["message"]
        assert done["output"][0]["status"] == "incomplete"
        # the next response is tried again on the same session
        await client.send({"type": "response.create"})
        assert (await client.until("response.done"))["response"]["status"] == "failed"


class TinyChunkSynthesizer(ToneSynthesizer):
    """The same tone, in 10 ms chunks, like a synthesiser with a small callback buffer."""

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        for chunk in super().synthesize(text, voice, speed):
            for start in range(0, len(chunk), 480):
                yield chunk[start : start + 480]


async def _delta_sizes_from_tiny_chunks() -> list[int]:
    components = replace(make_components(), synthesizer=TinyChunkSynthesizer())
    async with await start_server(components=components) as server, open_client(server) as client:
        await client.say("hi")
        await client.send({"type": "response.create"})
        await client.until("response.done")
    sizes = [len(base64.b64decode(e["delta"])) for e in client.of("response.output_audio.delta")]
    assert sum(sizes) // 48 == (len("You said: hi.") + len("That is all.")) * MS_PER_CHAR
    return sizes


async def test_small_synthesiser_chunks_are_merged_into_fewer_deltas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Once audio was sent, the listener has plenty in hand: whether a merge waits then
    # depends on the merging rule alone, not on how busy the machine is.
    def plenty_once_sent(speech: Any) -> float:
        return 3600.0 if speech._playout_end else 0.0

    monkeypatch.setattr(response_module._Speech, "_patience", plenty_once_sent)
    sizes = await _delta_sizes_from_tiny_chunks()
    assert sizes[0] == 480  # the first audio is not held back
    # later deltas carry at least 100 ms, but for the tail of each of the two sentences
    assert sum(size < response_module.MIN_DELTA_BYTES for size in sizes[1:]) <= 2


async def test_a_merge_never_makes_the_listener_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # The listener is always about to run short: every chunk leaves as it comes.
    monkeypatch.setattr(response_module, "SLACK_S", 3600.0)
    sizes = await _delta_sizes_from_tiny_chunks()
    assert set(sizes) == {480}


def test_closing_a_synthesis_a_thread_is_inside_waits_for_that_thread() -> None:
    # Shutting down mid-sentence closes the chunks while a worker thread may still be
    # inside next(): closing a running generator would fail ("already executing").
    entered, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def speech() -> Iterator[bytes]:
        try:
            entered.set()
            release.wait(10)
            yield b"first"
            yield b"second"
        finally:
            finished.append("closed")

    chunks = PulledChunks(speech())
    with ThreadPoolExecutor(2) as pool:
        pulled = pool.submit(chunks.next)
        assert entered.wait(10)
        closing = pool.submit(chunks.close)
        with pytest.raises(FutureTimeout):  # it waits for the running next()
            closing.result(0.2)
        release.set()
        assert pulled.result(10) == b"first"
        closing.result(10)  # no ValueError
    assert finished == ["closed"]
    assert chunks.next() is None  # closed: nothing more comes
