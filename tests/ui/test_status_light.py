"""The VAD status light: one state at a time, each distinct by colour and by words."""

from __future__ import annotations

import pytest

from tests.support.ui import SIZE, detached_app, feed
from voice_tui.core import events as ev
from voice_tui.core.events import ConnectionState, Phase
from voice_tui.ui.widgets.status_light import LightState, StatusLight, light_for

OK = ConnectionState.CONNECTED


def test_every_state_has_its_own_glyph_label_and_class() -> None:
    states = list(LightState)
    assert len({s.glyph for s in states}) == len(states)
    assert len({s.label for s in states}) == len(states)
    assert len({s.css_class for s in states}) == len(states)


@pytest.mark.parametrize(
    ("connection", "phase", "muted", "error", "expected"),
    [
        (OK, Phase.IDLE, False, False, LightState.IDLE),
        (OK, Phase.LISTENING, False, False, LightState.LISTENING),
        (OK, Phase.USER_SPEAKING, False, False, LightState.USER_SPEAKING),
        (OK, Phase.THINKING, False, False, LightState.THINKING),
        (OK, Phase.ASSISTANT_SPEAKING, False, False, LightState.ASSISTANT_SPEAKING),
        (OK, Phase.TOOL_RUNNING, False, False, LightState.TOOL_RUNNING),
        (OK, Phase.LISTENING, True, False, LightState.MUTED),
        # Muted does not hide that the assistant is talking.
        (OK, Phase.ASSISTANT_SPEAKING, True, False, LightState.ASSISTANT_SPEAKING),
        (OK, Phase.LISTENING, True, True, LightState.ERROR),
        (ConnectionState.RECONNECTING, Phase.LISTENING, False, True, LightState.RECONNECTING),
        (ConnectionState.DISCONNECTED, Phase.IDLE, False, False, LightState.DISCONNECTED),
        (ConnectionState.FAILED, Phase.IDLE, False, False, LightState.ERROR),
        (ConnectionState.CONNECTING, Phase.IDLE, False, False, LightState.CONNECTING),
    ],
)
def test_light_priority(
    connection: ConnectionState, phase: Phase, muted: bool, error: bool, expected: LightState
) -> None:
    assert light_for(connection, phase, muted=muted, error=error) is expected


def test_text_mode_is_not_listening() -> None:
    assert light_for(OK, Phase.LISTENING, muted=False, error=False, mic=False) is LightState.IDLE
    thinking = light_for(OK, Phase.THINKING, muted=False, error=False, mic=False)
    assert thinking is LightState.THINKING


@pytest.mark.parametrize("theme", ["dark", "light"])
async def test_each_state_has_its_own_colour_in_both_themes(theme: str) -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        light = app.query_one(StatusLight)
        colours = {}
        for state in LightState:
            light.state = state
            await pilot.pause()
            colours[state] = light.styles.background
            assert light.render().plain.startswith(f"{state.glyph} {state.label}")
        assert len(set(colours.values())) == len(LightState)


async def test_engine_events_drive_the_light() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        light = app.query_one(StatusLight)
        assert light.state is LightState.DISCONNECTED  # no runtime at all
        await feed(pilot, [ev.ConnectionChanged(ConnectionState.CONNECTED)])
        await feed(pilot, [ev.PhaseChanged(Phase.USER_SPEAKING)])
        assert light.state is LightState.USER_SPEAKING
        await feed(pilot, [ev.ErrorRaised("The server said no.")])
        assert light.state is LightState.ERROR
        await feed(pilot, [ev.PhaseChanged(Phase.THINKING)])  # the next phase clears it
        assert light.state is LightState.THINKING
        await feed(pilot, [ev.ConnectionChanged(ConnectionState.RECONNECTING, "lost", 2)])
        assert light.state is LightState.RECONNECTING
        assert "attempt 2" in light.render().plain
