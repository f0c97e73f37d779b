"""A local Realtime server with an API key and one known model, for backend tests.

Its replies are text only (no synthesiser): these tests are about reaching the server
and the errors on the way, not about audio."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from voice_tui.config.schema import Settings
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.components import (
    Components,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

API_KEY = "sk-backendtest-0123456789"
MODEL = "gpt-realtime-2.1"


class EchoResponder:
    name = "echo"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        yield TextPiece(f"Echo: {request.history[-1].content}")


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    srv = await start_server(
        components=Components(None, None, EchoResponder()), api_key=API_KEY, models=[MODEL]
    )
    try:
        yield srv
    finally:
        await srv.close()


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Settings from config sections, with tool files kept in the test's directory."""

    def factory(**sections: dict[str, object]) -> Settings:
        data: dict[str, object] = {"tools": {"data_dir": str(tmp_path / "tools")}}
        data.update(sections)
        return Settings.model_validate(data)

    return factory
