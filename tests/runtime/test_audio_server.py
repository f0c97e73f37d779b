"""The audio server goes away and comes back mid-session (a dedicated PulseAudio from
scripts/virtual-audio.sh): the app notices, the conversation goes on in text, and the
devices are reopened without a restart, also when none was there at startup."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import script
from tests.support.json_lines import JsonLinesProcess
from tests.support.virtual_audio import OwnAudioServer

REPO = Path(__file__).resolve().parents[2]


class RuntimeProbe(JsonLinesProcess):
    """runtime_probe.py in a subprocess."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        probe = script("runtime_probe.py")
        super().__init__(probe, str(data_dir), env=env, cwd=REPO, timeout_s=30)

    def say(self, text: str) -> dict[str, Any]:
        self.send(f"say {text}")
        return self.next("answer")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def own_audio_server(tmp_path: Path) -> Iterator[OwnAudioServer]:
    server = OwnAudioServer(tmp_path / "va")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.audio
@pytest.mark.skipif(shutil.which("pulseaudio") is None, reason="needs pulseaudio installed")
def test_audio_server_killed_and_restarted_mid_session(
    own_audio_server: OwnAudioServer, tmp_path: Path
) -> None:
    va = tmp_path / "va"
    pulse = {"PULSE_SERVER": f"unix:{va}/native", "PULSE_COOKIE": str(va / "cookie")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(pulse, PYTHONPATH=str(REPO))
    probe = RuntimeProbe(env, tmp_path)  # no audio server yet: it starts typed
    try:
        ready = probe.next("ready")
        assert ready["text_mode"] and ready["problem"]
        assert probe.say("hello there")["text"] == "You said: hello there."

        own_audio_server.start()  # the device comes back: reopened without a restart
        probe.send("reopen")
        reopened = probe.next("reopened")
        assert reopened["problem"] is None and not reopened["text_mode"]
        spoken = probe.say("can you hear me")
        assert spoken["text"] == "You said: can you hear me." and spoken["heard_ms"] > 0

        own_audio_server.stop()  # killed mid-session: noticed...
        lost = probe.next("status")
        assert lost["problem"] and "stopped working" in lost["problem"]
        typed = probe.say("still there")  # ...and the conversation goes on in text
        assert typed["text"] == "You said: still there." and typed["text_mode"]

        own_audio_server.start()
        probe.send("reopen")
        assert probe.next("reopened")["problem"] is None
        again = probe.say("hello again")
        assert again["text"] == "You said: hello again." and again["heard_ms"] > 0
    finally:
        probe.stop()
