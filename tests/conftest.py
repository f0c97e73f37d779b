"""Shared fixtures: every test runs with its own config and data dirs, and audio tests
get the project's virtual PulseAudio server (scripts/virtual-audio.sh).

PortAudio lists devices once, when sounddevice is imported, so the server's environment
is put in place here, at session start, before any test module imports it. Tests that
need a different audio environment run in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VIRTUAL_AUDIO = REPO / "scripts" / "virtual-audio.sh"
NOT_RUNNING = (
    "the virtual audio server is not running: "
    'eval "$(scripts/virtual-audio.sh start)" before pytest (CI always does)'
)


@dataclass(frozen=True)
class VirtualAudio:
    """A running PulseAudio server: sink `mic` feeds the default source, sink `speaker`
    is the default output (record it from `speaker.monitor`)."""

    env: dict[str, str]  # PULSE_SERVER and PULSE_COOKIE

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def _server_answers(env: dict[str, str]) -> bool:
    try:
        subprocess.run(
            ["pactl", "info"],
            env={**os.environ, **env},
            capture_output=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _running_server_env() -> dict[str, str] | None:
    """PULSE_* from the environment, else from a server the script already runs."""
    if os.environ.get("PULSE_SERVER"):
        env = {k: os.environ[k] for k in ("PULSE_SERVER", "PULSE_COOKIE") if k in os.environ}
        return env if _server_answers(env) else None
    try:
        out = subprocess.run(
            [str(VIRTUAL_AUDIO), "env"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.splitlines()
        if line.startswith("export ")
    )
    return env if env and _server_answers(env) else None


_SESSION_AUDIO: dict[str, str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_AUDIO
    _SESSION_AUDIO = _running_server_env()
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
