"""The assistant's audio items: the sink that plays them, how much of each came, the
words placed on it, and the response each belongs to. On barge-in it stops the sink
and tells the server what the user actually heard (`conversation.item.truncate`)."""

from __future__ import annotations

import asyncio
import contextlib

from voice_tui.core import protocol as p
from voice_tui.core.announcer import Announcer
from voice_tui.core.connection import Connection
from voice_tui.core.events import AssistantInterrupted, AudioChunk
from voice_tui.core.ports import PlaybackSink
from voice_tui.core.response_state import ResponseState
from voice_tui.core.spoken_text import SpokenText
from voice_tui.core.turnbook import TurnBook

DRAIN_POLL_S = 0.1  # for sinks that never say an item was played out


class AssistantAudio:
    def __init__(
        self, sink: PlaybackSink, announcer: Announcer, connection: Connection, book: TurnBook
    ) -> None:
        self._sink = sink
        self._announcer = announcer
        self._connection = connection
        self._book = book
        self._words: dict[str, SpokenText] = {}  # each audio item's words, on its audio
        self._received_ms: dict[str, float] = {}
        self._owner: dict[str, ResponseState] = {}
        self._last_item: str | None = None
        self._produced = False  # audio came in the current session
        self._drained = asyncio.Event()

    @property
    def sink(self) -> PlaybackSink:
        return self._sink

    def attach(self, sink: PlaybackSink) -> None:
        """Play through `sink` from now on (the audio worker, once it is built)."""
        self._sink = sink

    @property
    def produced(self) -> bool:
        """The current session has spoken (its voice can no longer change)."""
        return self._produced

    def new_session(self) -> None:
        self._produced = False

    def is_playing(self) -> bool:
        return self._sink.is_playing()

    @property
    def entries(self) -> int:
        """Records kept per item (bounded: forgotten once no response is live)."""
        return len(self._words) + len(self._received_ms) + len(self._owner)

    # ------------------------------------------------------------ items

    def claim(self, item_id: str, resp: ResponseState) -> None:
        self._owner[item_id] = resp

    def items_of(self, resp: ResponseState) -> list[str]:
        return [item_id for item_id, owner in self._owner.items() if owner is resp]

    def play(self, chunk: AudioChunk) -> None:
        self._produced = True
        self._last_item = chunk.item_id
        self._received_ms[chunk.item_id] = (
            self._received_ms.get(chunk.item_id, 0.0) + len(chunk.pcm) / p.BYTES_PER_MS
        )
        self._sink.play(chunk)

    def words(self, item_id: str) -> SpokenText:
        return self._words.setdefault(item_id, SpokenText())

    def received_ms(self, item_id: str) -> float:
        return self._received_ms.get(item_id, 0.0)

    def end_item(self, item_id: str) -> None:
        """No more audio will come for `item_id`: the player may call it finished, and
        the words of a cut are placed on all of its audio."""
        self.words(item_id).end_audio()
        self._sink.end_item(item_id)

    def end_response(self, resp: ResponseState) -> None:
        for item_id in self.items_of(resp):
            self.end_item(item_id)

    def forget_items(self) -> None:
        """No response is live: keep only what is still playing."""
        live = {self._last_item} if self._sink.is_playing() else set()
        for mapping in (self._words, self._received_ms, self._owner):
            for key in [k for k in mapping if k not in live]:
                del mapping[key]

    # ------------------------------------------------------------ played out

    def played_out(self, item_id: str) -> bool:
        """The sink played `item_id` to its end; True when it was the latest item."""
        self._drained.set()
        return item_id == self._last_item

    async def drain(self, margin_s: float) -> None:
        """Wait until everything received has played, or could have (plus `margin_s`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + sum(self._received_ms.values()) / 1000 + margin_s
        while self._sink.is_playing() and loop.time() < deadline:
            # played_out wakes us early; the poll covers sinks that never say.
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), DRAIN_POLL_S)

    # ------------------------------------------------------------ stopping

    def cut(self) -> None:
        """Barge-in: stop what is playing and tell the server what the user heard."""
        heard = self._sink.interrupt()
        if heard is None:
            return
        item_id = heard.item_id
        received = int(self._received_ms.get(item_id, heard.received_ms))
        end_ms = max(0, min(heard.heard_ms, received))
        resp = self._owner.get(item_id)
        if resp is not None:
            resp.cut_off()
        spoken = self._words.get(item_id, SpokenText())
        if heard.finished:
            heard_text, unheard_text = spoken.text, ""
        else:
            heard_text, unheard_text = spoken.split(end_ms, received)
            # The server's item is this long now; a later cut must not ask for more.
            self._received_ms[item_id] = end_ms
            self._connection.send(
                "conversation.item.truncate",
                lambda eid: p.truncate(item_id, heard.content_index, end_ms, eid),
            )
            turn = self._book.by_item.get(item_id)
            if turn is not None:  # an answer already journaled is amended
                self._book.cut_off(turn, heard_text)
        self._announcer.emit(
            AssistantInterrupted(
                item_id=item_id,
                heard_ms=end_ms,
                received_ms=received,
                heard_text=heard_text,
                unheard_text=unheard_text,
                truncate_sent=not heard.finished,
            )
        )

    def stop_heard(self, text: str) -> str:
        """The connection dropped mid-answer: stop, and say what of `text` was heard
        (all of it when nothing was playing, so nothing can tell)."""
        heard = self._sink.interrupt()
        if heard is None or heard.finished:
            return text
        received = int(self._received_ms.get(heard.item_id, heard.received_ms))
        spoken = self._words.get(heard.item_id, SpokenText(text))
        return spoken.split(min(heard.heard_ms, received), received)[0]
