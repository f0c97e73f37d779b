"""The conversation replayed into a new server session (reconnect, renewal, --resume).

Audio cannot be replayed, so every turn goes in as text: user turns as input_text,
assistant turns as output_text with only what the user actually heard. Tool calls go
in as the function_call item plus its function_call_output, so the model knows what it
asked and what came back; a call still running gets its function_call item alone, so
its output can follow when the tool finishes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from voice_tui.core.conversation import Role, Turn
from voice_tui.core.protocol import dumps, new_event_id


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A tool call that was running when the connection went away."""

    call_id: str
    name: str
    arguments: str


def _create(item: dict[str, object]) -> str:
    return dumps(
        {"type": "conversation.item.create", "event_id": new_event_id("evt_restore"), "item": item}
    )


def _message(role: Role, text: str) -> str:
    kind = "input_text" if role is Role.USER else "output_text"
    return _create(
        {"type": "message", "role": role.value, "content": [{"type": kind, "text": text}]}
    )


def _call(call_id: str, name: str, arguments: str) -> str:
    return _create(
        {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
    )


def restore_items(turns: Iterable[Turn], pending: Iterable[PendingCall] = ()) -> list[str]:
    """`conversation.item.create` events, oldest first; empty turns are skipped."""
    events: list[str] = []
    for turn in turns:
        if turn.image is not None:  # the bytes are not kept: say what it was
            events.append(
                _message(Role.USER, f"(Earlier I showed you an image: {turn.image.description}.)")
            )
        text = turn.spoken_text.strip()
        if text:
            events.append(_message(turn.role, text))
        if turn.role is Role.ASSISTANT:
            for record in turn.tool_calls:
                if record.server:  # a remote MCP call: the service made it, not a function
                    continue
                events.append(_call(record.call_id, record.name, record.arguments))
                events.append(
                    _create(
                        {
                            "type": "function_call_output",
                            "call_id": record.call_id,
                            "output": record.output,
                        }
                    )
                )
    events.extend(_call(c.call_id, c.name, c.arguments) for c in pending)
    return events
