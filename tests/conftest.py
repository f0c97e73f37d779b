"""Shared fixtures: every test runs with its own config and data dirs, and audio tests
get the project's virtual PulseAudio server (scripts/virtual-audio.sh).

PortAudio lists devices once, when sounddevice is imported, so the server's environment
is put in place here, at session start, before any test module imports it. Tests that
need a different audio environment run in a subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.virtual_audio import NOT_RUNNING, VirtualAudio, running_server_env

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
