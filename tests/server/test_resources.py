"""Sessions leave nothing behind: threads and tasks return to where they were."""

from __future__ import annotations

import asyncio
import threading

from openai import AsyncOpenAI

from tests.support.server import (
    MS_PER_CHAR,
    Client,
    hold_replies,
    make_components,
    silence,
    stream_audio,
    voiced,
)
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.items import KEEP_AUDIO_ITEMS


def own_threads() -> int:
    """Threads other than the event loop's executor pool (which grows to its cap once)."""
    return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())


async def settle(baseline_threads: int, baseline_tasks: int) -> tuple[int, int]:
    """Threads and tasks once worker threads have wound down (bounded wait)."""
    for _ in range(200):
        threads, tasks = own_threads(), len(asyncio.all_tasks())
        if threads <= baseline_threads and tasks <= baseline_tasks:
            break
        await asyncio.sleep(0.01)
    return own_threads(), len(asyncio.all_tasks())


async def sessions_ended(server: LocalServer) -> None:
    for _ in range(200):
        if not server.sessions:
            return
        await asyncio.sleep(0.01)


async def test_many_sessions_leave_no_threads_or_tasks() -> None:
    async with await start_server(components=make_components()) as server:
        sdk = AsyncOpenAI(api_key="x", base_url=server.base_url)
        # one warm-up session: the executor's worker threads are created once
        async with sdk.realtime.connect(model="gpt-realtime") as conn:
            client = Client(conn)
            await stream_audio(client, voiced(300) + silence(700))
            await client.until("response.done")
        await sessions_ended(server)
        threads, tasks = own_threads(), len(asyncio.all_tasks())
        for cycle in range(20):
            async with sdk.realtime.connect(model="gpt-realtime") as conn:
                client = Client(conn)
                await client.send(
                    {
                        "type": "session.update",
                        "session": {
                            "type": "realtime",
                            "audio": {"input": {"transcription": {"model": "x"}}},
                        },
                    }
                )
                await stream_audio(client, voiced(300) + silence(700))
                if cycle % 2:
                    await client.until("response.done")
                else:  # leave in the middle of the response
                    await client.until("response.output_audio.delta")
        await sessions_ended(server)
        threads_after, tasks_after = await settle(threads, tasks)
        assert threads_after <= threads
        assert tasks_after <= tasks
        assert not [t for t in threading.enumerate() if t.name == "server-asr"]
        assert not server.sessions


async def test_server_close_ends_sessions_with_responses_in_flight() -> None:
    server = await start_server(components=make_components())
    tasks_before = len(asyncio.all_tasks())
    sdk = AsyncOpenAI(api_key="x", base_url=server.base_url)
    conn = await sdk.realtime.connect(model="gpt-realtime").enter()
    client = Client(conn)
    hold_replies(server)
    await client.ask("something long")
    await client.until("response.created")
    async with asyncio.timeout(10):
        await server.close()
    assert not server.sessions
    await conn.close()
    _, tasks = await settle(10**6, tasks_before)
    assert tasks <= tasks_before


async def test_old_audio_is_released_but_its_length_remembered() -> None:
    async with await start_server(components=make_components()) as server:
        sdk = AsyncOpenAI(api_key="x", base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as conn:
            client = Client(conn)
            replies = []
            for n in range(KEEP_AUDIO_ITEMS + 3):
                await client.ask(f"turn {n}")
                replies.append((await client.until("response.done"))["response"]["output"][0])
            session = next(iter(server.sessions))
            kept = [item for item in session.conversation.items if item.audio]
            assert len(kept) == KEEP_AUDIO_ITEMS
            first = replies[0]
            await client.send({"type": "conversation.item.retrieve", "item_id": first["id"]})
            retrieved = (await client.until("conversation.item.retrieved"))["item"]
            assert "audio" not in retrieved["content"][0]
            length_ms = (len("You said: turn 0.") + len("That is all.")) * MS_PER_CHAR
            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": first["id"],
                    "content_index": 0,
                    "audio_end_ms": length_ms + 1,
                }
            )
            err = (await client.until("error"))["error"]
            assert f"Audio content of {length_ms}ms" in err["message"]
            # the newest reply still has its audio
            await client.send({"type": "conversation.item.retrieve", "item_id": replies[-1]["id"]})
            latest = (await client.until("conversation.item.retrieved"))["item"]
            assert latest["content"][0]["audio"]
            # usage still counts the forgotten audio
            done = client.of("response.done")[-1]["response"]
            assert done["usage"]["input_token_details"]["audio_tokens"] >= (
                (KEEP_AUDIO_ITEMS + 2) * length_ms // 50
            )
