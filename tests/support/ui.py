"""The world the live UI tests run in: the project's own Realtime server on 127.0.0.1,
reached by the real openai SDK over a real WebSocket, with deterministic Components
(a keyword responder that calls tools like a model would, and a tone synthesiser whose
audio length follows the text). The app is built exactly as `voice-tui` builds it."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w
from textual.pilot import Pilot

from tests.support.tones import ToneRecognizer, ToneSynthesizer
from voice_tui.config.loader import LoadedSettings, load_settings
from voice_tui.config.schema import Settings
from voice_tui.core.events import AppEvent, ConnectionState
from voice_tui.server.app import LocalServer
from voice_tui.server.components import (
    ChatMessage,
    Components,
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)
from voice_tui.server.session import Session
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.launch import runtime_connector
from voice_tui.ui.messages import EngineEvent
from voice_tui.ui.widgets.transcript import AssistantTurn

API_KEY = "sk-uitest-0123456789abcdef"
MODEL = "gpt-realtime"
PIRATE_INSTRUCTIONS = "Talk like a pirate."
HEARD_TONE_HZ = 440.0
HEARD_PHRASE = "hello from the microphone"
# Long enough (about five seconds of tone) to be talked over.
STORY_OPENING = (
    "Once upon a time there was a voice that lived in a terminal, and every morning it "
    "told the people who typed to it what the weather would be like. "
)
HOST_INSTRUCTIONS = "You take bookings for The Wild Brunch."


class KeywordResponder:
    """Answers by keyword. "story" streams slowly until the test releases it."""

    name = "ui-test-keywords"

    def __init__(self) -> None:
        self.requests: list[ResponderRequest] = []
        self.release_story = asyncio.Event()

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        self.requests.append(request)
        if not request.history:
            yield TextPiece("Hello.")
            return
        last: ChatMessage = request.history[-1]
        if last.role == "tool":
            yield TextPiece(f"The tool says {last.content[:30]}")
            return
        text = last.content.lower()
        if "time" in text:
            yield FunctionCallPiece("get_current_time", "{}", "call_" + uuid.uuid4().hex[:12])
        elif "story" in text:
            yield TextPiece(STORY_OPENING)
            await self.release_story.wait()
            yield TextPiece("It lived happily ever after.")
        else:
            yield TextPiece(f"You said: {last.content}.")


def components(responder: KeywordResponder) -> Components:
    return Components(
        recognizer=ToneRecognizer(
            "ui-test-tones", {HEARD_TONE_HZ: HEARD_PHRASE}, min_ms=100, min_peak=1000
        ),
        synthesizer=ToneSynthesizer("ui-test-tones", 20),
        responder=responder,
    )


def live_loaded(server: LocalServer, tmp_path: Path, **session: object) -> LoadedSettings:
    """A real config file for the server, read by the real loader (choices are saved
    back into it)."""
    data: dict[str, Any] = {
        "backend": {"kind": "openai", "model": MODEL},
        "openai": {"api_key": API_KEY, "base_url": server.base_url},
        "audio": {"enabled": False},
        "journal": {"dir": str(tmp_path / "journal")},
        "tools": {"data_dir": str(tmp_path / "tools")},
        "session": {"persona": "Assistant", **session},
        "personas": [
            {
                "name": "Assistant",
                "instructions": "Be brief.",
                "tools": ["get_current_time"],
            },
            {
                "name": "Brunch host",
                "description": "Books tables",
                "instructions": HOST_INSTRUCTIONS,
                "tools": ["check_table_availability", "book_table"],
            },
            {
                "name": "Pirate",
                "description": "Arr.",
                "instructions": PIRATE_INSTRUCTIONS,
                "voice": "ash",
            },
        ],
    }
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    path.chmod(0o600)
    return load_settings(path, env={})


def live_app(loaded: LoadedSettings, tmp_path: Path, *, resume: bool = False) -> VoiceApp:
    return VoiceApp(
        loaded.settings,
        connect=runtime_connector(loaded, argparse.Namespace(record=None, resume=resume)),
        config_path=loaded.path,
        clock=fixed_clock,
        transcripts_dir=tmp_path / "transcripts",
    )


async def until(
    pilot: Pilot[int], condition: Callable[[], object], what: str, limit_s: float = 15.0
) -> None:
    """Let the app run until `condition()` holds (the timeout only avoids a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() > deadline:
            shown = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for: {what}; notifications: {shown}")
        await pilot.pause(0.02)


def only_session(server: LocalServer) -> Session:
    live = [s for s in server.sessions if not s.closed]
    assert len(live) == 1, f"{len(live)} open sessions"
    return live[0]


def user_texts(session: Session) -> list[str]:
    return [
        part.get("text", "")
        for item in session.conversation.items
        if item.type == "message" and item.role == "user"
        for part in item.content
        if part.get("type") == "input_text"
    ]


# ---------------------------------------------------------------- apps without a runtime

FIXED_NOW = datetime(2026, 3, 14, 9, 26, 53)
SIZE = (120, 34)


def fixed_clock() -> datetime:
    return FIXED_NOW


def quiet_settings(**ui: object) -> Settings:
    settings = Settings()
    settings.audio.enabled = False
    for key, value in ui.items():
        setattr(settings.ui, key, value)
    return settings


def detached_app(settings: Settings | None = None, **kwargs: object) -> VoiceApp:
    """An app with no runtime: for rendering events fed by the test."""
    return VoiceApp(settings or quiet_settings(), connect=None, clock=fixed_clock, **kwargs)  # type: ignore[arg-type]


FEED_BATCH = 200  # events posted between two waits for the app to catch up


async def feed(pilot: Pilot[int], events: Iterable[AppEvent]) -> None:
    """Post events the way the engine listener does, then let the app render them."""
    app = pilot.app
    for count, event in enumerate(events, 1):
        app.post_message(EngineEvent(event))
        if count % FEED_BATCH == 0:
            # Each pause waits for what is queued, within Textual's own 30 s limit: on a
            # busy machine thousands of events at once can outlast it, a batch cannot.
            await pilot.pause()
    await pilot.pause()
    # Markdown streams render in background tasks: wait until they are idle.
    await app.workers.wait_for_complete()
    await pilot.pause()


# ---------------------------------------------------------------- what the app shows


def assistant_texts(app: VoiceApp) -> list[str]:
    return [t.text for t in app.transcript.turns() if isinstance(t, AssistantTurn)]


def notes(app: VoiceApp) -> list[str]:
    return [n.text.plain for n in app.transcript.notes()]


def notifications(app: VoiceApp) -> list[str]:
    return [n.message for n in app._notifications]


async def connected(pilot: object, app: VoiceApp) -> None:
    await until(pilot, lambda: app.connection is ConnectionState.CONNECTED, "connected")  # type: ignore[arg-type]
    await until(pilot, lambda: app.status_bar.info.model != "", "session ready")  # type: ignore[arg-type]


async def type_message(pilot: object, text: str) -> None:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.press(*text)  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]
