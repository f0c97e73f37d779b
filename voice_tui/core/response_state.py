"""One model response as the engine follows it: its turn, its tool calls, whether it
is over, cut by the user, or discarded. Its fields change only through its methods."""

from __future__ import annotations

from voice_tui.core.conversation import Turn


class ResponseState:
    __slots__ = (
        "_cut",
        "_discarded",
        "_done",
        "_spoke",
        "_tool_calls",
        "_tools_running",
        "_turn",
        "response_id",
    )

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self._turn: Turn | None = None
        self._done = False
        self._cut = False  # barge-in/interrupt: drop the rest of its audio
        self._discarded = False  # answered in text where speech was wanted: asked again
        self._spoke = False  # produced assistant words (text or transcript)
        self._tools_running = 0
        self._tool_calls: set[str] = set()

    def __repr__(self) -> str:
        return f"ResponseState({self.response_id!r}, done={self._done}, cut={self._cut})"

    @property
    def turn(self) -> Turn | None:
        return self._turn

    @property
    def done(self) -> bool:
        return self._done

    @property
    def cut(self) -> bool:
        return self._cut

    @property
    def discarded(self) -> bool:
        return self._discarded

    @property
    def spoke(self) -> bool:
        return self._spoke

    @property
    def tools_running(self) -> int:
        return self._tools_running

    @property
    def settled(self) -> bool:
        """Over, and no tool of it still running: its turn can be announced."""
        return self._done and self._tools_running == 0

    def take_turn(self, turn: Turn) -> None:
        self._turn = turn

    def drop_turn(self) -> Turn | None:
        turn, self._turn = self._turn, None
        return turn

    def finish(self) -> None:
        self._done = True

    def cut_off(self) -> None:
        """The user stopped it: the rest of its audio is not played."""
        self._cut = True

    def discard(self) -> None:
        """It is asked for again: nothing more of it counts."""
        self._discarded = self._cut = True

    def said_something(self) -> None:
        self._spoke = True

    def call_started(self, call_id: str) -> bool:
        """A tool call of this response starts; False when it is a repeat (servers
        announce a call twice) or the response was discarded."""
        if not call_id or call_id in self._tool_calls or self._discarded:
            return False
        self._tool_calls.add(call_id)
        self._tools_running += 1
        return True

    def call_finished(self) -> None:
        self._tools_running -= 1
