"""Fixtures for the UI tests: an isolated config and data dir, a fixed clock, and a
helper that feeds real engine events through the app's own message path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Never read or write the real user's config or data."""
    monkeypatch.setenv("VOICE_TUI_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("VOICE_TUI_DATA_DIR", str(tmp_path / "data"))
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


@pytest.fixture
def responder() -> object:
    from tests.support.ui import KeywordResponder

    return KeywordResponder()


@pytest.fixture
async def server(responder: object) -> AsyncIterator[object]:
    from tests.support.ui import API_KEY, MODEL, KeywordResponder, components
    from voice_tui.server.app import start_server

    assert isinstance(responder, KeywordResponder)
    srv = await start_server(components=components(responder), api_key=API_KEY, models=[MODEL])
    try:
        yield srv
    finally:
        responder.release_story.set()
        await srv.close()
