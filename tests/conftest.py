"""Shared fixtures: every test runs with its own config and data dirs, and audio tests
get the project's virtual PulseAudio server (scripts/virtual-audio.sh).

PortAudio lists devices once, when sounddevice is imported, so the server's environment
is put in place here, at session start, before any test module imports it. Tests that
need a different audio environment run in a subprocess.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from audio.virtual import NOT_RUNNING, VirtualAudio, running_server_env

_SESSION_AUDIO: dict[str, str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_AUDIO
    _SESSION_AUDIO = running_server_env()
    if _SESSION_AUDIO:
        os.environ.update(_SESSION_AUDIO)  # before anything imports sounddevice


@pytest.fixture(scope="session")
def virtual_audio() -> VirtualAudio:
    if not _SESSION_AUDIO:
        pytest.skip(NOT_RUNNING)
    return VirtualAudio(dict(_SESSION_AUDIO))


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the user's real config or data."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICE_TUI_CONFIG", str(root / "config.toml"))
        mp.setenv("VOICE_TUI_DATA_DIR", str(root / "data"))
        yield


class _Refusals(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def _client_events_follow_the_sdk(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every client event sent to the built-in server in any test (the engine's, the
    headless runner's, a test client's) is checked by the server against the SDK's
    request TypedDicts (voice_tui/server/client_events.py), as strictly as the service
    checks it; one refusal fails the test. Tests that send bad events on purpose are
    marked `invalid_client_events`."""
    refusals = _Refusals()
    protocol = logging.getLogger("voice_tui.server.protocol")
    protocol.addHandler(refusals)
    try:
        yield
    finally:
        protocol.removeHandler(refusals)
    if refusals.messages and request.node.get_closest_marker("invalid_client_events") is None:
        pytest.fail("the server refused client events:\n  " + "\n  ".join(refusals.messages))
