"""A private virtual PulseAudio server for the audio benchmarks.

It is started with the project's scripts/virtual-audio.sh in a directory of its own, so
the benchmarks never play through the user's real speakers and never share the `mic`
and `speaker` sinks with anything else (e.g. tests running at the same time).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "virtual-audio.sh"


class VirtualAudioError(RuntimeError):
    pass


@dataclass(frozen=True)
class VirtualAudio:
    directory: Path
    env: dict[str, str]  # PULSE_SERVER, PULSE_COOKIE

    def stop(self) -> None:
        subprocess.run(
            [str(SCRIPT), "stop"],
            env={**os.environ, "VIRTUAL_AUDIO_DIR": str(self.directory)},
            capture_output=True,
            timeout=30,
            check=False,
        )


def start(directory: Path) -> VirtualAudio:
    try:
        done = subprocess.run(
            [str(SCRIPT), "start"],
            env={**os.environ, "VIRTUAL_AUDIO_DIR": str(directory)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise VirtualAudioError(f"could not run {SCRIPT.name}: {exc}") from exc
    if done.returncode != 0:
        raise VirtualAudioError(done.stderr.strip() or f"{SCRIPT.name} start failed")
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in done.stdout.splitlines()
        if line.startswith("export ")
    )
    if "PULSE_SERVER" not in env:
        raise VirtualAudioError(f"{SCRIPT.name} printed no PULSE_SERVER")
    return VirtualAudio(directory, env)
