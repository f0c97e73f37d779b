"""Small terminals: the side panel gives way before the conversation does, the light
stays in sight, the input line stays usable, and the status bar keeps to one line."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.widgets import Input

from tests.support import scenes
from tests.support.ui import detached_app, feed
from voice_tui.core.events import ConnectionState, TurnMode
from voice_tui.core.usage import TurnUsage, UsageTotals
from voice_tui.ui.widgets.status_bar import StatusBar, StatusInfo, status_text
from voice_tui.ui.widgets.status_light import StatusLight
from voice_tui.ui.widgets.transcript import Transcript


@pytest.mark.parametrize("size", [(40, 12), (60, 16), (80, 24), (120, 34)])
async def test_the_conversation_keeps_its_room_and_the_input_works(
    size: tuple[int, int],
) -> None:
    width, height = size
    app = detached_app()
    async with app.run_test(size=size) as pilot:
        await feed(pilot, scenes.CONVERSATION)
        transcript = app.query_one(Transcript)
        line = app.query_one("#message", Input)
        side = app.query_one("#side")
        assert transcript.size.width >= width // 2 and transcript.size.height >= height // 3
        assert line.outer_size.width >= transcript.outer_size.width - 2  # its margins
        shown_lights = [light for light in app.query(StatusLight) if light.region.area]
        assert [light.id for light in shown_lights] == (
            ["light-inline"] if width < 72 else ["light"]
        )
        assert bool(side.region.area) is (width >= 72)
        assert app.query_one(StatusBar).size.height == 1
        await pilot.press("enter", *"hi there")
        assert line.value == "hi there" and line.has_focus


def test_the_status_bar_drops_the_least_useful_parts_first() -> None:
    info = StatusInfo(
        backend="openai",
        model="gpt-realtime",
        persona="Grumpy Professor",
        voice="shimmer",
        turn_mode=TurnMode.SERVER_VAD,
        connection=ConnectionState.CONNECTED,
        totals=UsageTotals(turns=3, input_tokens=900, output_tokens=300, cost_usd=0.0123),
        last_turn=TurnUsage(output_audio_tokens=120, cost_usd=0.004),
        latency_s=0.41,
        echo="echo cancel 24 dB",
    )
    full = status_text(info).plain
    assert "reply 410 ms" in full and "last 120 tok" in full
    for width in (30, 60, 90, 200):
        line = status_text(info, width).plain
        assert cell_len(line) <= width
        assert line.startswith("openai · gpt-realtime")
    assert "reply" not in status_text(info, 90).plain  # latency goes first
    assert "total 1,200 tok $0.0123" in status_text(info, 60).plain  # the cost stays longest


def test_the_offline_engine_is_named_by_its_parts_and_costs_nothing() -> None:
    info = StatusInfo(
        backend="local",
        model="gpt-realtime",
        engine="offline · pocketsphinx → built-in replies → espeak-ng",
        billed=False,
        totals=UsageTotals(turns=1, input_tokens=50, output_tokens=20, cost_usd=0.002),
    )
    line = status_text(info).plain
    assert "gpt-realtime" not in line and "$" not in line
    assert "pocketsphinx → built-in replies → espeak-ng" in line and "total 70 tok" in line
    assert status_text(info, 20).plain.startswith("offline")
