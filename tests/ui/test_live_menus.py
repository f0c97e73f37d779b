"""Persona menu, command palette, remapped keys, errors and logging, live."""

from __future__ import annotations

import argparse
import logging
import threading
import tomllib
from pathlib import Path

from textual.command import CommandList
from textual.widgets import Footer

from tests.support.ui import (
    API_KEY,
    HOST_INSTRUCTIONS,
    PIRATE_INSTRUCTIONS,
    SIZE,
    assistant_texts,
    connected,
    live_app,
    live_loaded,
    notes,
    notifications,
    only_session,
    type_message,
    until,
)
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import Settings
from voice_tui.core.events import TurnMode
from voice_tui.logsetup import setup_logging
from voice_tui.redact import Redactor
from voice_tui.server.app import LocalServer
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.launch import build_app
from voice_tui.ui.screens.confirm import ConfirmScreen
from voice_tui.ui.screens.personas import PersonaScreen
from voice_tui.ui.widgets.status_light import LightState, StatusLight


def palette_hits(app: VoiceApp) -> int:
    lists = app.screen.query(CommandList)
    return lists.first().option_count if lists else 0


def tool_names(server: LocalServer) -> list[str]:
    return [t.name for t in only_session(server).config.tools]


async def test_persona_menu_applies_instructions_and_tools_live(
    server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path)
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        assert tool_names(server) == ["get_current_time"]
        await pilot.press("escape", "p")
        await until(pilot, lambda: isinstance(app.screen, PersonaScreen), "persona menu")
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.status_bar.info.persona == "Brunch host", "applied")
        session = only_session(server)
        assert session.config.instructions == HOST_INSTRUCTIONS
        assert tool_names(server) == ["check_table_availability", "book_table"]
        assert server.connections_accepted == 1  # no voice change needed: same session
        await app.workers.wait_for_complete()
        saved = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
        assert saved["session"]["persona"] == "Brunch host"


async def test_new_voice_offers_a_new_session(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        # Once the session has spoken, its voice is fixed.
        await type_message(pilot, "hello")
        await until(pilot, lambda: "You said: hello." in assistant_texts(app), "spoken answer")
        assert only_session(server).audio_produced
        await pilot.press("escape", "p", "down", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "new session offer")
        assert only_session(server).config.instructions == PIRATE_INSTRUCTIONS  # applied now
        await pilot.press("y")
        await until(pilot, lambda: server.connections_accepted == 2, "new connection")
        await until(pilot, lambda: len([s for s in server.sessions if not s.closed]) == 1, "one")
        await until(
            pilot, lambda: only_session(server).config.audio.output.voice == "ash", "new voice"
        )
        assert only_session(server).config.instructions == PIRATE_INSTRUCTIONS
        await until(pilot, lambda: app.status_bar.info.voice == "ash", "voice shown")


async def test_personas_in_the_command_palette(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"Persona: Brunch")
        await until(pilot, lambda: palette_hits(app) > 0, "hits")
        await pilot.press("enter")
        await until(pilot, lambda: app.status_bar.info.persona == "Brunch host", "applied")
        assert only_session(server).config.instructions == HOST_INSTRUCTIONS


async def test_turn_modes_in_the_command_palette(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"Turn mode: push-to-talk")
        await until(pilot, lambda: palette_hits(app) > 0, "hits")
        await pilot.press("enter")
        await until(pilot, lambda: app.turn_mode is TurnMode.PUSH_TO_TALK, "ptt")
        assert only_session(server).config.audio.input.turn_detection is None


async def test_keys_are_remapped_from_settings(server: LocalServer, tmp_path: Path) -> None:
    loaded = live_loaded(server, tmp_path)
    loaded.settings.ui.keys = {"turn_mode": "f5", "personas": "ctrl+o"}
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("escape", "v")  # the old key does nothing now
        await pilot.pause()
        assert "f5" in app.active_bindings and "v" not in app.active_bindings
        assert app.turn_mode is TurnMode.SERVER_VAD
        await pilot.press("f5")
        await until(pilot, lambda: app.turn_mode is TurnMode.SEMANTIC_VAD, "remapped key")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, PersonaScreen), "persona menu")
        assert app.query_one(Footer)


async def test_unknown_key_ids_are_reported(server: LocalServer, tmp_path: Path) -> None:
    loaded = live_loaded(server, tmp_path)
    loaded.settings.ui.keys = {"push_to_tallk": "k"}
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        [message] = [n for n in notifications(app) if "ui.keys" in n]
        assert "push_to_tallk" in message and "push_to_talk" in message


async def test_connection_errors_show_in_transcript_notification_and_light(
    server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path)
    wrong = loaded.settings.model_copy(deep=True)
    wrong.openai.api_key = "sk-wrong-key-000000000000"  # type: ignore[assignment]
    app = live_app(LoadedSettings(wrong, loaded.path, exists=False), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        light = app.query_one(StatusLight)
        await until(pilot, lambda: light.state is LightState.ERROR, "error light")
        # The light goes red as start() fails; the error itself arrives as an engine
        # event a moment later, and is then both a transcript line and a notification.
        await until(
            pilot,
            lambda: any(n.severity == "error" for n in app._notifications),
            "error notification",
        )
        assert any("⚠" in n for n in notes(app))
        shown = " ".join(notes(app)) + " ".join(notifications(app))
        assert "sk-wrong-key-000000000000" not in shown and API_KEY not in shown


async def test_logged_warnings_become_notifications(server: LocalServer, tmp_path: Path) -> None:
    loaded = live_loaded(server, tmp_path)
    setup = setup_logging(None, Redactor([API_KEY]))
    try:
        app = build_app(loaded, argparse.Namespace(record=None, resume=False), setup)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot, app)
            thread = threading.Thread(
                target=logging.getLogger("voice_tui.test").warning,
                args=("disk [almost] full, key %s", API_KEY),
            )
            thread.start()
            thread.join()
            await until(
                pilot, lambda: any("disk [almost] full" in n for n in notifications(app)), "shown"
            )
            [shown] = [n for n in notifications(app) if "disk" in n]
            assert API_KEY not in shown  # redacted before it reaches the screen
    finally:
        setup.close()


async def test_unusable_backend_settings_are_reported_and_the_app_stays_up(
    tmp_path: Path,
) -> None:
    from tests.support.ui import live_app

    loaded = LoadedSettings(
        Settings.model_validate({"backend": {"kind": "openai"}, "audio": {"enabled": False}}),
        tmp_path / "config.toml",
        exists=False,
    )
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        light = app.query_one(StatusLight)
        await until(pilot, lambda: light.state is LightState.ERROR, "error light")
        [error] = [n for n in app._notifications if n.severity == "error"]
        assert "Could not start" in error.message and "OPENAI_API_KEY" in error.message
        assert any("Could not start" in n for n in notes(app))
        assert app.status_bar.info.connection.value == "failed"
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "quit")
