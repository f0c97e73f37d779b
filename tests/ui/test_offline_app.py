"""The app as `voice-tui --backend local --text-only` runs it: the built-in offline
engine in-process (its own server, espeak-ng voice, built-in responder), the real SDK
over a real WebSocket, built by `launch.build_app` exactly as the command line does."""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.support.ui import SIZE, assistant_texts, notes, until
from voice_tui.cli import build_parser, overrides_from_args
from voice_tui.config.loader import load_settings
from voice_tui.logsetup import setup_logging
from voice_tui.redact import Redactor
from voice_tui.ui.launch import build_app
from voice_tui.ui.widgets.tool_log import ToolLog


async def test_offline_engine_answers_a_typed_question_with_a_tool(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--backend", "local", "--text-only"])
    assert isinstance(args, argparse.Namespace)
    loaded = load_settings(
        None,
        env={"VOICE_TUI_CONFIG": str(tmp_path / "c.toml")},
        overrides=overrides_from_args(args),
    )
    loaded.settings.journal.dir = str(tmp_path / "journal")
    setup = setup_logging(None, Redactor())
    try:
        app = build_app(loaded, args, setup)
        async with app.run_test(size=SIZE) as pilot:
            await until(
                pilot, lambda: app.status_bar.info.backend == "local", "offline session", 60
            )
            await pilot.press("enter", *"what time is it", "enter")
            await until(pilot, lambda: bool(assistant_texts(app)), "an answer", 60)
            [entry] = app.query_one(ToolLog)._entries.values()
            assert "get_current_time" in str(entry.content) and "✓" in str(entry.content)
            assert any("get_current_time" in n for n in notes(app))
            # the models load in the background; then the status bar names the parts
            parts = "whisper tiny.en · hibari + espeak-ng · Silero VAD"
            await until(pilot, lambda: parts in app.status_bar.info.engine, "the parts", 120)
            await pilot.press("escape", "q")
            await until(pilot, lambda: not app.is_running, "quit", 30)
        assert app.return_code == 0
    finally:
        setup.close()
