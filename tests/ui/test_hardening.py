"""Smaller findings of the red-team pass (#13): what the screen says, and says once."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.support import scenes
from tests.support.ui import (
    SIZE,
    connected,
    detached_app,
    feed,
    live_app,
    live_loaded,
    notes,
    notifications,
    quiet_settings,
    until,
)
from voice_tui.config.schema import Persona
from voice_tui.core import events as ev
from voice_tui.core.events import ConnectionState, Phase
from voice_tui.server.app import LocalServer
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.messages import AudioProblem
from voice_tui.ui.screens.confirm import ConfirmScreen
from voice_tui.ui.screens.personas import persona_prompt
from voice_tui.ui.widgets.status_light import LightState, StatusLight
from voice_tui.ui.widgets.transcript import UserTurn

DEVICE_LOST = (
    "The microphone 'default' stopped working (no audio for a second). Reconnect it or "
    "restart the audio server (PulseAudio/PipeWire), then reopen the devices."
)


async def settle(pilot: Pilot[int]) -> None:
    await pilot.pause()
    await pilot.pause()


async def test_reconnect_attempts_update_one_line() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [ev.ConnectionChanged(ConnectionState.CONNECTED, "local")])
        before = len(notes(app))
        await feed(
            pilot,
            [
                ev.Notice("The server went silent. Reconnecting…"),
                *(
                    ev.ConnectionChanged(
                        ConnectionState.RECONNECTING,
                        f"The server went silent. Attempt {n} in 0.5 s.",
                        attempt=n,
                    )
                    for n in (1, 2, 3)
                ),
            ],
        )
        added = notes(app)[before:]
        assert len(added) == 1 and "Attempt 3" in added[0]
        await feed(pilot, [ev.ConnectionChanged(ConnectionState.CONNECTED, "local")])
        assert notes(app)[before:] == ["⚡ Reconnected."]


async def test_a_failed_connection_is_said_once() -> None:
    app = detached_app()
    message = "The API key was rejected: set openai.api_key."
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.ErrorRaised(message, fatal=True, source="connection"),
                ev.ConnectionChanged(ConnectionState.FAILED, message),
                ev.ConversationEnded(f"error: {message}"),
            ],
        )
        assert sum(message in n for n in notes(app)) == 1
        assert sum(message in n for n in notifications(app)) == 1


async def test_an_audio_problem_names_the_real_key_and_the_light_recovers() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [ev.ConnectionChanged(ConnectionState.CONNECTED, "local")])
        light = app.query_one("#light", StatusLight)
        app.post_message(AudioProblem(DEVICE_LOST))
        await settle(pilot)
        assert light.state is LightState.ERROR
        [shown] = [n for n in notes(app) if "stopped working" in n]
        assert "press d and Apply" in shown and "Reopen audio devices" in shown
        assert "reopen audio." not in shown  # no command of that name
        app.post_message(AudioProblem(None))  # the worker reports it working again
        await settle(pilot)
        assert light.state is not LightState.ERROR


@pytest.mark.parametrize("worker_first", [True, False])
async def test_the_text_mode_problem_is_said_once_whoever_says_it_first(
    server: LocalServer, tmp_path: Path, worker_first: bool
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    problem = "audio is turned off (audio.enabled = false)"  # what this runtime says
    connect = app._connect
    assert connect is not None

    async def audio_worker_reports_too(target: VoiceApp) -> object:
        if worker_first:  # the worker's report is handled before the runtime is attached
            await target.on_audio_problem(AudioProblem(problem))
        runtime = await connect(target)
        if not worker_first:
            target.post_message(AudioProblem(problem))
        return runtime

    app._connect = audio_worker_reports_too  # type: ignore[assignment]
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await settle(pilot)
        assert sum(problem in n for n in notes(app)) == 1
        assert any("Text mode" in n for n in notes(app))


async def test_a_word_cut_off_by_mute_leaves_no_placeholder() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [ev.SpeechStarted("u1", 0)])
        [placeholder] = app.transcript.turns()
        assert isinstance(placeholder, UserTurn) and placeholder.partial
        assert await app.transcript.drop_placeholders() == 1
        await settle(pilot)
        assert app.transcript.turns() == []
        # Should the server still commit that speech, its turn comes back.
        await feed(pilot, [ev.UserTranscriptFinal("u1", "hello")])
        [turn] = app.transcript.turns()
        assert isinstance(turn, UserTurn) and turn.text == "hello"


async def test_q_asks_while_the_answer_is_still_being_spoken(
    server: LocalServer, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        runtime = app.runtime
        assert runtime is not None and not runtime.engine.busy
        # Generation is over, the speaker is still playing the answer.
        await feed(pilot, [ev.PhaseChanged(Phase.ASSISTANT_SPEAKING)])
        await pilot.press("escape", "q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert app.is_running


def test_one_tool_is_one_tool() -> None:
    base = quiet_settings().personas[0]
    persona = Persona(name="Clock", instructions="Tell the time.", tools=["get_current_time"])
    assert "(1 tool)" in persona_prompt(persona, current=False).plain
    assert "tools)" not in persona_prompt(persona, current=False).plain
    assert base.name


async def test_a_screenshot_that_cannot_be_saved_says_why(tmp_path: Path) -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        app.deliver_screenshot(path=str(tmp_path / "no" / "such" / "folder"))
        await until(pilot, lambda: any("Screenshot" in n for n in notifications(app)), "told")
        [shown] = [n for n in notifications(app) if "Screenshot" in n or "screenshot" in n]
        assert "No such file or directory" in shown and str(tmp_path / "no") in shown


async def test_every_cell_of_the_light_theme_has_the_themes_background() -> None:
    """Cells without a background show the terminal's own (black bars beside each
    message in the light theme)."""
    app = detached_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "light"
        await feed(pilot, scenes.CONVERSATION)
        bare = [
            segment.text
            for strip in app.screen._compositor.render_strips()
            for segment in strip
            if segment.text and (segment.style is None or segment.style.bgcolor is None)
        ]
        assert bare == []
