"""The app with real audio: PortAudio through the virtual PulseAudio server
(scripts/virtual-audio.sh). The mic meter moves with sound played into the `mic` sink;
mute and the device menu act on the real audio worker."""

from __future__ import annotations

import math
import tomllib
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support.ui import (
    HEARD_PHRASE,
    SIZE,
    STORY_OPENING,
    assistant_texts,
    connected,
    live_app,
    live_loaded,
    notifications,
    only_session,
    until,
)
from tests.support.virtual_audio import VirtualAudio
from voice_tui.server.app import LocalServer
from voice_tui.ui.launch import list_device_choices
from voice_tui.ui.screens.devices import DeviceScreen
from voice_tui.ui.widgets.mic_meter import MicMeter
from voice_tui.ui.widgets.status_light import LightState, StatusLight
from voice_tui.ui.widgets.transcript import AssistantTurn, UserTurn

pytestmark = pytest.mark.audio


def write_tone(path: Path, seconds: float = 1.5, amplitude: float = 0.5) -> Path:
    rate = 24_000
    t = np.arange(int(rate * seconds)) / rate
    pcm = (amplitude * np.sin(2 * math.pi * 440.0 * t) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


async def test_meter_mute_and_devices_with_real_audio(
    virtual_audio: VirtualAudio, server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path)
    loaded.settings.audio.enabled = True
    app = live_app(loaded, tmp_path)
    app._list_devices = list_device_choices
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        runtime = app.runtime
        assert runtime is not None and runtime.audio is not None, runtime and runtime.audio_problem
        meter = app.query_one(MicMeter)
        assert meter.available
        virtual_audio.run("paplay", "--device=mic", str(write_tone(tmp_path / "tone.wav")))
        await until(pilot, lambda: meter.peak_dbfs > -20.0, "the tone on the meter")

        await pilot.press("m")
        await until(pilot, lambda: meter.muted, "muted")
        light = app.query_one(StatusLight)
        await until(pilot, lambda: light.state is LightState.MUTED, "muted light")
        await pilot.press("m")
        await until(pilot, lambda: not meter.muted, "unmuted")

        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DeviceScreen), "device menu")
        screen = app.screen
        assert isinstance(screen, DeviceScreen)
        names = [c.value for c in screen._inputs]
        assert None in names and "pulse" in names
        # Pick "pulse" as the microphone, keep the default speaker.
        await pilot.press(*["down"] * names.index("pulse"), "enter", "enter")
        await until(
            pilot, lambda: "Audio devices changed." in notifications(app), "devices reopened", 30
        )
        await app.workers.wait_for_complete()
        saved = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
        assert saved["audio"]["input_device"] == "pulse"
        assert "output_device" not in saved["audio"]  # the default: nothing to write
        # The reopened microphone still reaches the meter.
        meter.peak_dbfs = -60.0
        virtual_audio.run("paplay", "--device=mic", str(tmp_path / "tone.wav"))
        await until(pilot, lambda: meter.peak_dbfs > -20.0, "the tone after reopening")


async def test_interrupt_key_cuts_the_spoken_answer_at_what_was_heard(
    virtual_audio: VirtualAudio, server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path, turn_detection="push_to_talk")
    loaded.settings.audio.enabled = True
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        light = app.query_one(StatusLight)
        await pilot.press("enter", *"tell me a story", "enter", "escape")
        await until(pilot, lambda: light.state is LightState.ASSISTANT_SPEAKING, "speaking")
        await pilot.pause(0.5)  # let some of it be heard
        await pilot.press("x")
        story = None

        def interrupted() -> bool:
            nonlocal story
            story = next((t for t in app.transcript.turns() if isinstance(t, AssistantTurn)), None)
            return story is not None and story.interrupted

        await until(pilot, interrupted, "the answer cut")
        assert isinstance(story, AssistantTurn)
        assert story.heard and STORY_OPENING.startswith(story.heard.strip())
        assert story.unheard and len(story.heard) < len(STORY_OPENING)
        assert "⏹ interrupted" in story.title().plain
        truncated = [i for i in only_session(server).conversation.items if i.truncated]
        assert len(truncated) == 1  # the server was told what was heard


async def test_push_to_talk_with_the_real_microphone(
    virtual_audio: VirtualAudio, server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path, turn_detection="push_to_talk")
    loaded.settings.audio.enabled = True
    app = live_app(loaded, tmp_path)
    tone = write_tone(tmp_path / "tone.wav", seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        light = app.query_one(StatusLight)
        await pilot.press("space")
        await until(pilot, lambda: light.state is LightState.USER_SPEAKING, "talking")
        virtual_audio.run("paplay", "--device=mic", str(tone))  # returns once played
        await pilot.press("space")
        await until(
            pilot,
            lambda: any(
                isinstance(t, UserTurn) and t.text == HEARD_PHRASE for t in app.transcript.turns()
            ),
            "the spoken turn transcribed",
        )
        await until(pilot, lambda: f"You said: {HEARD_PHRASE}." in assistant_texts(app), "reply")
        turns = app.transcript.turns()
        assert [t.role for t in turns[:2]] == ["user", "assistant"]
        audio_items = [
            i
            for i in only_session(server).conversation.items
            if i.role == "user" and any(p.get("type") == "input_audio" for p in i.content)
        ]
        assert len(audio_items) == 1  # one committed push-to-talk turn


async def test_echo_key_switches_the_mode_live_shows_and_saves_it(
    virtual_audio: VirtualAudio, server: LocalServer, tmp_path: Path
) -> None:
    from voice_tui.audio.echo import EchoCanceller, HalfDuplexGate

    loaded = live_loaded(server, tmp_path)
    loaded.settings.audio.enabled = True
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        runtime = app.runtime
        assert runtime is not None and not runtime.text_mode, runtime and runtime.audio_problem
        bar = app.status_bar
        assert isinstance(runtime.echo, EchoCanceller)  # open speakers by default
        assert bar.info.echo.startswith("echo cancel")
        await pilot.press("escape", "e")
        await until(pilot, lambda: bar.info.echo == "half-duplex", "half-duplex shown")
        assert isinstance(runtime.echo, HalfDuplexGate)  # the worker's processor changed
        await pilot.press("e")
        await until(pilot, lambda: bar.info.echo == "headphones (echo off)", "off shown")
        assert runtime.echo is None
        await app.workers.wait_for_complete()
        saved = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
        assert saved["audio"]["echo"] == "off"
