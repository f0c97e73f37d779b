"""The project's virtual PulseAudio server (scripts/virtual-audio.sh), as tests see it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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

    def env_full(self) -> dict[str, str]:
        """The process environment with this server's PULSE_* variables."""
        return {**os.environ, **self.env}

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


class OwnAudioServer:
    """A PulseAudio server of a test's own (scripts/virtual-audio.sh in `directory`, not
    the shared one), to stop and start at will."""

    def __init__(self, directory: Path) -> None:
        self._env = {**os.environ, "VIRTUAL_AUDIO_DIR": str(directory)}

    def start(self) -> dict[str, str]:
        """Start it (if not running); its PULSE_* variables."""
        return self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def _run(self, command: str) -> dict[str, str]:
        out = subprocess.run(
            [str(VIRTUAL_AUDIO), command],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return dict(
            line.removeprefix("export ").split("=", 1)
            for line in out.splitlines()
            if line.startswith("export ")
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


def running_server_env() -> dict[str, str] | None:
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
