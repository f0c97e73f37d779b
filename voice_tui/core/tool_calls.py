"""The model's function calls: each one runs as its own task (several of one response
may run side by side), its output goes back to the server as soon as it is ready, and
the conversation hears about it. A call still running when the connection drops is
replayed with the conversation; its output follows when it finishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voice_tui.config.schema import Settings
from voice_tui.core import protocol as p
from voice_tui.core.announcer import Announcer
from voice_tui.core.connection import Connection, Handler
from voice_tui.core.events import Phase, ToolCallFinished, ToolCallStarted
from voice_tui.core.lifetime import Lifetime
from voice_tui.core.response_state import ResponseState
from voice_tui.core.responses import Responses
from voice_tui.core.restore import PendingCall
from voice_tui.core.scheduler import ResponseScheduler
from voice_tui.core.tool_runner import run_tool_call
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.turnbook import TurnBook


class ToolCalls:
    def __init__(
        self,
        registry: ToolRegistry,
        settings: Settings,
        announcer: Announcer,
        connection: Connection,
        lifetime: Lifetime,
        book: TurnBook,
        responses: Responses,
        scheduler: ResponseScheduler,
        *,
        next_step: Callable[[], None],
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._announcer = announcer
        self._connection = connection
        self._lifetime = lifetime
        self._book = book
        self._responses = responses
        self._scheduler = scheduler
        self._next_step = next_step  # what comes next once an output is sent
        self._running: dict[str, PendingCall] = {}  # by call id, for a restore
        self._in_progress = 0  # calls whose tool has not returned
        self._end_after_goodbye = False  # end_conversation ran: end once it is said

    def handlers(self) -> dict[str, Handler]:
        return {
            "response.function_call_arguments.done": self._on_arguments_done,
            "response.output_item.done": self._on_item_done,
        }

    @property
    def running(self) -> bool:
        return self._in_progress > 0

    def pending(self) -> list[PendingCall]:
        """The calls still running, for a restore: their outputs follow later."""
        return list(self._running.values())

    def take_goodbye(self) -> bool:
        """Whether a tool asked to end the conversation (asked once)."""
        goodbye, self._end_after_goodbye = self._end_after_goodbye, False
        return goodbye

    def _on_arguments_done(self, event: dict[str, Any]) -> None:
        self._start(
            self._responses.get(p.str_field(event, "response_id")),
            p.str_field(event, "item_id"),
            p.str_field(event, "call_id"),
            p.str_field(event, "name"),
            p.str_field(event, "arguments", "{}"),
        )

    def _on_item_done(self, event: dict[str, Any]) -> None:
        item = p.obj(event, "item")
        # Servers that skip function_call_arguments.done still get their call run.
        if p.str_field(item, "type") == "function_call":
            self._start(
                self._responses.get(p.str_field(event, "response_id")),
                p.str_field(item, "id"),
                p.str_field(item, "call_id"),
                p.str_field(item, "name"),
                p.str_field(item, "arguments", "{}"),
            )

    def _start(self, resp: ResponseState, item_id: str, call_id: str, name: str, args: str) -> None:
        if not resp.call_started(call_id):
            return
        self._running[call_id] = PendingCall(call_id, name, args)
        self._in_progress += 1
        self._responses.turn_for(resp, item_id or call_id)
        self._announcer.emit(ToolCallStarted(call_id, name, args))
        self._announcer.set_phase(Phase.TOOL_RUNNING)
        self._lifetime.spawn(self._run(resp, call_id, name, args))

    async def _run(self, resp: ResponseState, call_id: str, name: str, args: str) -> None:
        try:
            outcome = await run_tool_call(
                self._registry, self._settings.session, call_id, name, args
            )
        finally:
            self._running.pop(call_id, None)
            self._in_progress -= 1
            resp.call_finished()
        record = outcome.record
        if resp.turn is not None:
            resp.turn.tool_calls.append(record)
        self._announcer.emit(
            ToolCallFinished(
                call_id, name, args, record.output, record.ok, record.error, record.duration_s
            )
        )
        if outcome.ends_conversation:
            self._end_after_goodbye = True
        # Said goodbye already alongside the call? Then end without a new answer.
        if not outcome.ends_conversation or not resp.spoke:
            self._scheduler.want_followup()
        if resp.settled and resp.turn is not None:
            self._book.finish(resp.turn)
        if not self._connection.live:
            # Disconnected: the record is replayed with the conversation on restore,
            # and the follow-up is asked for then.
            return
        self._connection.send(
            "conversation.item.create",
            lambda eid: p.function_output_item(call_id, record.output, eid),
        )
        self._next_step()
