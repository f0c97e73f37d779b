"""Input audio transcription: user audio through the Recognizer, off the event loop.

Every committed audio item is recognised (the responder only reads text); the
`conversation.item.input_audio_transcription.*` events are sent only when the session
asked for transcription. With server VAD the utterance is fed to the recogniser while
the user speaks, so at the end of speech only `finish()` remains; its partials are
announced after the commit, as the cloud does. Utterances complete one at a time, in
order, so their events never interleave; a response waits for the item's transcript,
which may arrive after `response.created`, as with the cloud.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import queue
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Final

from voice_tui.server.components import Recognizer, Settling
from voice_tui.server.config import Transcription
from voice_tui.server.items import Item
from voice_tui.server.wire import Event

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]
FEED_BYTES = 9600  # 200 ms of audio per feed() when recognising a whole item at once


_PAUSE: Final = "pause"
_RESUME: Final = "resume"
_EXIT_WAIT_S: Final = 10.0
_running: weakref.WeakSet[Utterance] = weakref.WeakSet()


@atexit.register
def _stop_recognitions() -> None:
    """At exit, let each recognition finish its current step: a native recogniser torn
    down mid-decode by the interpreter's exit aborts the process."""
    utterances = list(_running)
    for utterance in utterances:
        utterance.abort()
    deadline = time.monotonic() + _EXIT_WAIT_S
    for utterance in utterances:
        utterance.join(max(0.0, deadline - time.monotonic()))


class Utterance:
    """One recognition in its own thread: feed() as audio arrives, then finish().

    pause()/resume() pass on the VAD's hints: a recogniser that can (`Settling`)
    decodes during the silence that confirms the end of the turn, so its transcript is
    ready when the turn is committed. Audio queued while the thread was busy is fed in
    one piece, so a slow recogniser catches up instead of falling further behind."""

    def __init__(self, recognizer: Recognizer, config: Transcription | None) -> None:
        self._loop = asyncio.get_running_loop()
        self.partials: asyncio.Queue[str] = asyncio.Queue()
        self.result: asyncio.Future[str] = self._loop.create_future()
        self._chunks: queue.SimpleQueue[bytes | str | None] = queue.SimpleQueue()
        self._aborted = False
        self._thread = threading.Thread(
            target=self._work,
            args=(recognizer, config),
            name="server-asr",
            daemon=True,
        )
        self._thread.start()
        _running.add(self)

    def feed(self, pcm: bytes) -> None:
        if pcm:
            self._chunks.put(pcm)

    def pause(self) -> None:
        self._chunks.put(_PAUSE)

    def resume(self) -> None:
        self._chunks.put(_RESUME)

    def finish(self) -> None:
        self._chunks.put(None)

    def abort(self) -> None:
        self._aborted = True
        self._chunks.put(None)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _work(self, recognizer: Recognizer, config: Transcription | None) -> None:
        try:
            stream = recognizer.start(
                config.language if config else None, config.prompt if config else None
            )
            settling = stream if isinstance(stream, Settling) else None
            finished = False
            while not finished:
                batch = self._take_queued()
                finished = batch[-1] is None
                if self._aborted:
                    break
                audio = b"".join(c for c in batch if isinstance(c, bytes))
                if audio:
                    partial = stream.feed(audio)
                    if partial is not None and not finished:
                        self._post(self.partials.put_nowait, partial)
                # Only the last hint of what was queued matters: a pause the speaker
                # already ended, or one right before the turn ended, needs no decode.
                hints = [c for c in batch if isinstance(c, str)]
                if settling is not None and _RESUME in hints:
                    settling.unsettle()  # the speaker went on: an earlier decode is stale
                if settling is not None and hints and hints[-1] == _PAUSE and not finished:
                    settling.settle()
            text = "" if self._aborted else stream.finish()
            self._post(_resolve, self.result, text, None)
        except Exception as exc:
            self._post(_resolve, self.result, "", exc)

    def _take_queued(self) -> list[bytes | str | None]:
        """What arrived since the last round (waiting for at least one), up to the end."""
        batch = [self._chunks.get()]
        while batch[-1] is not None and not self._chunks.empty():
            batch.append(self._chunks.get())
        return batch

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(callback, *args)


def _resolve(future: asyncio.Future[str], text: str, exc: Exception | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(text)


class Transcriber:
    def __init__(self, recognizer: Recognizer | None, emit: Emit) -> None:
        self.recognizer = recognizer
        self._emit = emit
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def begin(self, config: Transcription | None) -> Utterance | None:
        """A live utterance to feed while the user speaks (None: no recogniser)."""
        if self.recognizer is None:
            return None
        return Utterance(self.recognizer, config)

    def start(
        self,
        item: Item,
        content_index: int,
        config: Transcription | None,
        live: Utterance | None = None,
    ) -> None:
        """Recognise `item`'s audio (or finish the live utterance that heard it);
        `item.transcript` resolves to the text."""
        if item.transcript is None:
            item.transcript = asyncio.get_running_loop().create_future()
        utterance = live
        if utterance is None and self.recognizer is not None:
            utterance = Utterance(self.recognizer, config)
            pcm = bytes(item.audio.get(content_index, b""))
            for start in range(0, len(pcm), FEED_BYTES):
                utterance.feed(pcm[start : start + FEED_BYTES])
        if utterance is not None:
            utterance.finish()
        task = asyncio.create_task(self._recognise(item, content_index, config, utterance))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _recognise(
        self,
        item: Item,
        index: int,
        config: Transcription | None,
        utterance: Utterance | None,
    ) -> None:
        assert item.transcript is not None
        future = item.transcript
        text = ""
        try:
            async with self._lock:
                if utterance is None:
                    if config is not None:
                        raise RuntimeError("no speech recogniser is available on this machine")
                else:
                    text = await self._follow(item, index, config, utterance)
        except asyncio.CancelledError:
            if utterance is not None:
                utterance.abort()
            raise
        except Exception as exc:
            log.warning("recognition of %s failed: %s", item.id, exc)
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

    async def _follow(
        self, item: Item, index: int, config: Transcription | None, utterance: Utterance
    ) -> str:
        """Announce the utterance's partials as they come, then its final transcript."""
        sent = ""
        while True:
            getter = asyncio.ensure_future(utterance.partials.get())
            await asyncio.wait({getter, utterance.result}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                sent = await self._send_delta(item, index, config, sent, getter.result())
                continue
            getter.cancel()
            if utterance.partials.empty():
                break
        text = utterance.result.result().strip()
        if config is not None:
            seconds = round(item.audio_ms(index) / 1000, 3)
            await self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item.id,
                    "content_index": index,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": seconds},
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
