"""Input audio transcription: committed user audio through the Recognizer, in a thread.

Every committed audio item is recognised (the responder only reads text); the
`conversation.item.input_audio_transcription.*` events are sent only when the session
asked for transcription. Utterances are recognised one at a time, in order, so their
events never interleave; a response waits for the item's transcript, which may arrive
after `response.created`, as with the cloud.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from voice_tui.server.components import Recognizer
from voice_tui.server.config import Transcription
from voice_tui.server.items import Item
from voice_tui.server.wire import Event

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]
FEED_BYTES = 9600  # 200 ms of audio per feed(): partials arrive a few times a second


class Transcriber:
    def __init__(self, recognizer: Recognizer | None, emit: Emit) -> None:
        self.recognizer = recognizer
        self._emit = emit
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, item: Item, content_index: int, config: Transcription | None) -> None:
        """Begin recognising `item`'s audio; `item.transcript` resolves to the text."""
        item.transcript = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._recognise(item, content_index, config))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _recognise(self, item: Item, index: int, config: Transcription | None) -> None:
        assert item.transcript is not None
        future = item.transcript
        text = ""
        try:
            async with self._lock:
                text = await self._run_recognizer(item, index, config)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("recognition of %s failed", item.id)
            if config is not None:
                await self._emit(
                    {
                        "type": "conversation.item.input_audio_transcription.failed",
                        "item_id": item.id,
                        "content_index": index,
                        "error": {
                            "type": "transcription_error",
                            "code": "audio_unintelligible",
                            "message": f"Speech recognition failed: {exc}",
                            "param": None,
                        },
                    }
                )
        finally:
            item.content[index]["transcript"] = text
            item.transcript = None
            if not future.done():
                future.set_result(text)

    async def _run_recognizer(self, item: Item, index: int, config: Transcription | None) -> str:
        pcm = bytes(item.audio.get(index, b""))
        if self.recognizer is None:
            if config is not None:
                raise RuntimeError("no speech recogniser is available on this machine")
            return ""
        recognizer = self.recognizer
        loop = asyncio.get_running_loop()
        partials: asyncio.Queue[str] = asyncio.Queue()

        def work() -> str:
            stream = recognizer.start(
                config.language if config else None, config.prompt if config else None
            )
            for start in range(0, len(pcm), FEED_BYTES):
                partial = stream.feed(pcm[start : start + FEED_BYTES])
                if partial is not None:
                    loop.call_soon_threadsafe(partials.put_nowait, partial)
            return stream.finish()

        result = asyncio.ensure_future(asyncio.to_thread(work))
        sent = ""
        while True:
            getter = asyncio.ensure_future(partials.get())
            await asyncio.wait({getter, result}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                if partials.empty():
                    break
                continue
            sent = await self._send_delta(item, index, config, sent, getter.result())
        while not partials.empty():
            sent = await self._send_delta(item, index, config, sent, partials.get_nowait())
        text = result.result().strip()
        if config is not None:
            await self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item.id,
                    "content_index": index,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": round(len(pcm) / 48_000, 3)},
                }
            )
        return text

    async def _send_delta(
        self, item: Item, index: int, config: Transcription | None, sent: str, partial: str
    ) -> str:
        """Deltas only ever append: a partial that rewrote earlier words waits for the final."""
        if config is None or not partial.startswith(sent) or partial == sent:
            return sent
        await self._emit(
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": item.id,
                "content_index": index,
                "delta": partial[len(sent) :],
            }
        )
        return partial
