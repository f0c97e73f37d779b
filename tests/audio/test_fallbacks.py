"""No PortAudio, no audio server, a device that dies mid-stream: the worker says what is
wrong and how to fix it, never raises, and reopens once the device is back.

Each case runs the worker in a subprocess: PortAudio reads its environment once."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import script
from tests.support.json_lines import JsonLinesProcess
from tests.support.virtual_audio import REPO, OwnAudioServer, VirtualAudio

HIDE_PORTAUDIO = """\
import ctypes.util

_find_library = ctypes.util.find_library


def find_library(name):
    return None if name == "portaudio" else _find_library(name)


ctypes.util.find_library = find_library
"""


class Probe(JsonLinesProcess):
    """tests/support/worker_probe.py in a subprocess, read line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(script("worker_probe.py"), env=env, cwd=REPO)

    def mic_chunks(self) -> int:
        self.send("mic")
        return int(self.next("mic")["chunks"])

    def quit(self) -> int:
        self.send("quit")
        self.next("closed")
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def probes() -> Iterator[list[Probe]]:
    started: list[Probe] = []
    yield started
    for probe in started:
        probe.kill()


def probe_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def test_without_portaudio_the_worker_says_which_package_to_install(
    tmp_path: Path, probes: list[Probe]
) -> None:
    (tmp_path / "sitecustomize.py").write_text(HIDE_PORTAUDIO)
    probe = Probe(probe_env(PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}"))
    probes.append(probe)
    status = probe.next("status")
    assert status["text_mode"]
    assert "PortAudio" in status["problem"]
    assert "sudo apt install libportaudio2" in status["problem"]
    assert "text mode" in status["problem"]
    assert probe.next("started")["status"] == status["problem"]
    assert probe.quit() == 0


def test_without_an_audio_server_the_worker_says_to_start_one(
    tmp_path: Path, probes: list[Probe]
) -> None:
    probe = Probe(probe_env(PULSE_SERVER=f"unix:{tmp_path}/nobody-here"))
    probes.append(probe)
    status = probe.next("status")
    assert status["text_mode"]
    assert "start PulseAudio or PipeWire" in status["problem"]
    assert probe.quit() == 0


@pytest.mark.audio
def test_a_server_that_dies_is_reported_and_reopened_when_back(
    virtual_audio: VirtualAudio, tmp_path: Path, probes: list[Probe]
) -> None:
    server = OwnAudioServer(tmp_path / "va")
    pulse = server.start()
    try:
        probe = Probe(probe_env(**pulse))
        probes.append(probe)
        status = probe.next("status")
        assert status["problem"] is None and status["input"] and status["output"]
        wait_for_chunks(probe, more_than=0)

        server.stop()
        lost = probe.next("status")
        assert lost["problem"] is not None
        assert "stopped working" in lost["problem"]
        assert "restart the audio server" in lost["problem"]
        assert lost["input"] is None and lost["output"] is None

        server.start()
        before = probe.mic_chunks()
        probe.send("reopen")
        back = probe.next("status")
        assert back["problem"] is None, back["problem"]
        assert back["input"] and back["output"]
        wait_for_chunks(probe, more_than=before)
        assert probe.quit() == 0
    finally:
        server.stop()


def wait_for_chunks(probe: Probe, more_than: int) -> None:
    for _ in range(200):
        if probe.mic_chunks() > more_than:
            return
        threading.Event().wait(0.05)
    raise AssertionError("no microphone audio arrived")
