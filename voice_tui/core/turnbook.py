"""The conversation's turns and the order they are announced in.

Turns are added when they start (a committed user turn, an assistant item) and are
announced (`TurnCompleted`) when they finish, but always in conversation order: a
user transcript that arrives after the answer began still comes first. A turn cut
after it was announced (its answer was done, its audio still playing) is announced
again as amended (`TurnAmended`), so the journal keeps only what the user heard.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from voice_tui.core.conversation import Role, Turn


class TurnBook:
    def __init__(
        self,
        history: Sequence[Turn],
        announce: Callable[[Turn], None],
        amend: Callable[[Turn], None],
    ) -> None:
        self.turns: list[Turn] = list(history)
        self.by_item: dict[str, Turn] = {}
        self._announce = announce
        self._amend = amend
        self._unannounced: deque[Turn] = deque()
        self._finished: set[int] = set()

    @property
    def waiting(self) -> bool:
        """Some finished turns wait behind an earlier unfinished one."""
        return bool(self._unannounced) and bool(self._finished)

    def add(self, turn: Turn) -> None:
        self.turns.append(turn)
        self.by_item[turn.item_id] = turn
        self._unannounced.append(turn)

    def link_item(self, item_id: str, turn: Turn) -> None:
        """Another item of `turn` (a response's second message or a function call)."""
        self.by_item.setdefault(item_id, turn)

    def discard(self, turn: Turn) -> None:
        """Forget a turn that must not be remembered (a reply that is asked again)."""
        for collection in (self.turns, self._unannounced):
            if turn in collection:
                collection.remove(turn)
        self.by_item = {k: t for k, t in self.by_item.items() if t is not turn}
        self._finished.discard(id(turn))

    def cut_off(self, turn: Turn, heard_text: str) -> None:
        """Only `heard_text` of the assistant's `turn` reached the user. Announced
        already (the answer was done, its audio still playing): announced as amended."""
        turn.cut_off(heard_text)
        announced = any(t is turn for t in self.turns) and all(
            t is not turn for t in self._unannounced
        )
        if announced:
            self._amend(turn)

    def finish(self, turn: Turn) -> None:
        turn.finish_once(time.time())
        self._finished.add(id(turn))
        self._flush()

    def release_user_turns(self) -> None:
        """Spoken turns whose transcript will never come must not hold the others."""
        for turn in self._unannounced:
            if turn.role is Role.USER:
                turn.finish_once(time.time())
                self._finished.add(id(turn))
        self._flush()

    def finish_all(self) -> None:
        """The conversation is over: announce everything, each with an end time."""
        for turn in self._unannounced:
            turn.finish_once(time.time())
            self._finished.add(id(turn))
        self._flush()

    def _flush(self) -> None:
        while self._unannounced and id(self._unannounced[0]) in self._finished:
            turn = self._unannounced.popleft()
            self._finished.discard(id(turn))
            self._announce(turn)
