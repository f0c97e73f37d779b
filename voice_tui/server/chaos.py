"""More fault hooks for reliability tests, on top of `FaultPlan`: sessions that
misbehave the way real models and networks do.

- `chaos.text_only_responses`: the next N responses that do not ask for a modality
  answer in text although the session wants audio, as a model given replayed text
  history sometimes does;
- `inject(session, raw)`: send any bytes to the client (malformed, unknown, truncated
  or out-of-order events);
- `chaos.answer_delay_s`: a slow server, each client event (but audio) handled this
  much later;
- every client event a session received is kept (`received(session)`), so a test can
  check what the client replayed and asked for.

`start_chaos_server` is `start_server` with these hooks attached to every session as it
is added to `server.sessions`; the server itself is the ordinary LocalServer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed

from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.components import Components
from voice_tui.server.config import ResponseParams
from voice_tui.server.session import Session

MAX_KEPT_EVENTS = 2000  # per session; audio appends are kept by type only


@dataclass(slots=True)
class ChaosPlan:
    text_only_responses: int = 0
    answer_delay_s: float = 0.0
    received: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


class _HookedSessions(set[Session]):
    """`server.sessions`, attaching the chaos hooks to each session added."""

    def __init__(self, plan: ChaosPlan) -> None:
        super().__init__()
        self.plan = plan

    def add(self, session: Session) -> None:
        _attach(session, self.plan)
        super().add(session)


def _attach(session: Session, plan: ChaosPlan) -> None:
    log = plan.received.setdefault(id(session), [])
    dispatch: Callable[[str | bytes], Awaitable[None]] = session._dispatch
    start: Callable[[ResponseParams, float], Awaitable[None]] = session._start_response

    async def keep_and_dispatch(message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            event = None
        if isinstance(event, dict) and len(log) < MAX_KEPT_EVENTS:
            if event.get("type") == "input_audio_buffer.append":
                event = {"type": "input_audio_buffer.append"}
            log.append(event)
        if plan.answer_delay_s and isinstance(event, dict) and "audio" not in event:
            await asyncio.sleep(plan.answer_delay_s)
        await dispatch(message)

    async def maybe_text_only(params: ResponseParams, started_at: float) -> None:
        if plan.text_only_responses > 0 and params.output_modalities is None:
            plan.text_only_responses -= 1
            params = params.model_copy(update={"output_modalities": ["text"]})
        await start(params, started_at)

    # Instance attributes shadow the methods: the session calls them through `self`.
    session._dispatch = keep_and_dispatch  # type: ignore[method-assign]
    session._start_response = maybe_text_only  # type: ignore[method-assign]


class ChaosServer:
    """A LocalServer with chaos hooks; everything else is the server's own."""

    def __init__(self, server: LocalServer, plan: ChaosPlan) -> None:
        self.server = server
        self.chaos = plan

    @property
    def faults(self) -> Any:
        return self.server.faults

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def sessions(self) -> list[Session]:
        return list(self.server.sessions)

    def received(self, session: Session) -> list[dict[str, Any]]:
        return self.chaos.received.get(id(session), [])

    def received_of(self, session: Session, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.received(session) if e.get("type") == kind]

    async def close(self) -> None:
        await self.server.close()


async def inject(session: Session, raw: str | bytes) -> None:
    """Send raw bytes to the client as if they were a server event."""
    try:
        await session.ws.send(raw)
    except ConnectionClosed:
        session.closed = True


async def start_chaos_server(
    components: Components,
    *,
    host: str = "127.0.0.1",
    api_key: str | None = None,
    models: Collection[str] | None = None,
) -> ChaosServer:
    server = await start_server(components, host=host, api_key=api_key, models=models)
    plan = ChaosPlan()
    server.sessions = _HookedSessions(plan)
    return ChaosServer(server, plan)
