"""The app with MCP tools and images: the approval dialog, the MCP status, `/image`.
Real SDK, built-in server, the demo MCP server over stdio, audio off."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from PIL import Image
from textual.widgets import Input, Static

from tests.support.conversation import API_KEY, MODEL, ToolUser, components
from tests.support.mcp_support import stdio_settings
from tests.support.ui import SIZE, fixed_clock, only_session, until
from voice_tui.config.loader import load_settings
from voice_tui.server.app import LocalServer, start_server
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.launch import runtime_connector
from voice_tui.ui.screens.approval import ApprovalScreen
from voice_tui.ui.widgets.tool_log import ToolLog
from voice_tui.ui.widgets.transcript import AssistantTurn


@pytest.fixture
async def tool_server() -> AsyncIterator[LocalServer]:
    server = await start_server(components=components(ToolUser()), api_key=API_KEY, models=[MODEL])
    try:
        yield server
    finally:
        await server.close()


def app_for(server: LocalServer, tmp_path: Path, approval: Any = "always") -> VoiceApp:
    demo = stdio_settings(require_approval=approval).model_dump(exclude_none=True)
    data: dict[str, Any] = {
        "backend": {"kind": "openai", "model": MODEL},
        "openai": {"api_key": API_KEY, "base_url": server.base_url},
        "audio": {"enabled": False},
        "journal": {"dir": str(tmp_path / "journal")},
        "session": {"persona": "Tools"},
        "personas": [{"name": "Tools", "instructions": "Use tools.", "mcp": ["demo"]}],
        "mcp_servers": [demo],
    }
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    loaded = load_settings(path, env={})
    return VoiceApp(
        loaded.settings,
        connect=runtime_connector(loaded, argparse.Namespace(record=None, resume=False)),
        config_path=loaded.path,
        clock=fixed_clock,
    )


def answers(app: VoiceApp) -> list[str]:
    return [t.text for t in app.transcript.turns() if isinstance(t, AssistantTurn)]


async def type_line(pilot: Any, text: str) -> None:
    box = pilot.app.query_one("#message", Input)
    box.focus()
    box.value = text
    await pilot.press("enter")


async def ready(pilot: Any, app: VoiceApp) -> None:
    await until(pilot, lambda: app.status_bar.info.mcp == "MCP 1/1", "MCP server ready", 30)
    await until(pilot, lambda: app.status_bar.info.model != "", "session ready")


async def test_the_approval_dialog_shows_the_call_and_each_answer_counts(
    tool_server: LocalServer, tmp_path: Path
) -> None:
    app = app_for(tool_server, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await type_line(pilot, "shout first")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the dialog")
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "shout" in shown and "demo" in shown and '"text": "first"' in shown
        await pilot.press("d")  # deny: the model is told
        await until(pilot, lambda: any("declined" in a for a in answers(app)), "told")
        await type_line(pilot, "shout second")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "asked again")
        await pilot.press("s")  # allow for this session
        await until(pilot, lambda: any("SECOND!" in a for a in answers(app)), "the result")
        await type_line(pilot, "shout third")
        await until(pilot, lambda: any("THIRD!" in a for a in answers(app)), "not asked")
        log = app.query_one(ToolLog)
        assert len(log._entries) == 3
        entries = [str(e.render()) for e in log._entries.values()]
        assert "✗" in entries[0] and "declined" in entries[0]
        assert "✓" in entries[2] and "THIRD!" in entries[2]


async def test_an_image_is_attached_from_the_input_line(
    tool_server: LocalServer, tmp_path: Path
) -> None:
    picture = tmp_path / "cat.webp"
    Image.new("RGB", (64, 48), "orange").save(picture, format="WEBP")
    app = app_for(tool_server, tmp_path, approval="never")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await type_line(pilot, f"/image {tmp_path}/missing.png")
        errors = lambda: [n.message for n in app._notifications if n.severity == "error"]  # noqa: E731
        await until(pilot, errors, "an error")
        assert "The image was not sent:" in errors()[0] and "no such file" in errors()[0]
        assert app.query_one("#message", Input).value.endswith("missing.png")  # kept
        await type_line(pilot, f"/image {picture}")
        notes = lambda: [n.text.plain for n in app.transcript.notes()]  # noqa: E731
        await until(pilot, lambda: any("cat.webp" in n for n in notes()), "the note")
        assert any(n.startswith("🖼 You showed an image: cat.webp, 64×48") for n in notes())
        session = only_session(tool_server)
        parts = [p for i in session.conversation.items for p in i.content]
        image = next(p for p in parts if p.get("type") == "input_image")
        assert image["image_url"].startswith("data:image/jpeg;base64,")
        assert app.query_one("#message", Input).value == ""
