"""Each backend holds a real conversation turn with the local server."""

from __future__ import annotations

import asyncio
from typing import Any

from voice_tui.backends import select_backend
from voice_tui.backends.local import LocalBackend
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent, SessionReady, TurnCompleted
from voice_tui.core.tools import build_registry
from voice_tui.server.app import LocalServer

API_KEY = "sk-backendtest-0123456789"
MODEL = "gpt-realtime-2.1"


async def _typed_turn(settings: Any, backend: Any, text: str) -> list[AppEvent]:
    events: list[AppEvent] = []
    answered = asyncio.Event()

    def listen(event: AppEvent) -> None:
        events.append(event)
        if isinstance(event, TurnCompleted) and event.turn.role.value == "assistant":
            answered.set()

    engine = ConversationEngine(settings, backend, build_registry(settings))
    engine.subscribe(listen)
    try:
        await engine.start()
        await engine.send_text(text)
        await asyncio.wait_for(answered.wait(), 15)
    finally:
        await engine.close()
        await backend.aclose()
    return events


async def test_openai_backend_against_the_local_server(
    make_settings: Any, server: LocalServer
) -> None:
    settings = make_settings(openai={"api_key": API_KEY, "base_url": server.base_url})
    events = await _typed_turn(settings, select_backend(settings), "hello")
    answer = [e.turn for e in events if isinstance(e, TurnCompleted)][-1]
    assert answer.text == "Echo: hello"


async def test_azure_backend_against_the_local_server(
    make_settings: Any, server: LocalServer
) -> None:
    settings = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": server.azure_endpoint, "deployment": MODEL, "api_key": API_KEY},
    )
    backend = select_backend(settings)
    assert backend.name == "azure"
    events = await _typed_turn(settings, backend, "ahoy")
    ready = next(e for e in events if isinstance(e, SessionReady))
    assert (ready.backend, ready.model) == ("azure", MODEL)
    assert [e.turn.text for e in events if isinstance(e, TurnCompleted)] == ["ahoy", "Echo: ahoy"]


async def test_local_backend_runs_the_offline_engine_in_process(make_settings: Any) -> None:
    settings = make_settings(backend={"kind": "local"})
    backend = select_backend(settings)
    assert isinstance(backend, LocalBackend) and backend.notice is None
    events = await _typed_turn(settings, backend, "hello")
    ready = next(e for e in events if isinstance(e, SessionReady))
    assert ready.backend == "local"
    answer = [e.turn for e in events if isinstance(e, TurnCompleted)][-1]
    assert answer.text  # the built-in responder said something
    assert backend.base_url is None  # the server was stopped
