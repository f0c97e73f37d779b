"""The mic meter: level, peak hold, clipping latch, muted; levels posted from a thread."""

from __future__ import annotations

import threading

from tests.ui.conftest import SIZE, detached_app
from voice_tui.ui.messages import MicLevelChanged
from voice_tui.ui.widgets.mic_meter import (
    CLIP_LATCH_UPDATES,
    FLOOR_DBFS,
    PEAK_HOLD_UPDATES,
    MicMeter,
)


def test_levels_merge_while_queued() -> None:
    newer = MicLevelChanged(-20.0, -10.0, False)
    assert newer.can_replace(MicLevelChanged(-30.0, -25.0, False))


async def test_peak_is_held_then_decays_and_clipping_latches() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        meter = app.query_one(MicMeter)
        meter.show_level(-12.0, -1.0, True)
        assert meter.peak_dbfs == -1.0 and meter.clipping
        assert "CLIP" in meter.render().plain
        for _ in range(PEAK_HOLD_UPDATES):
            meter.show_level(-50.0, -45.0, False)
        assert meter.peak_dbfs == -1.0  # held
        meter.show_level(-50.0, -45.0, False)
        assert -45.0 < meter.peak_dbfs < -1.0  # decaying
        for _ in range(CLIP_LATCH_UPDATES):
            meter.show_level(-50.0, -45.0, False)
        assert not meter.clipping
        await pilot.pause()
        shown = meter.render().plain
        assert "CLIP" not in shown and "-50 dB" in shown


async def test_louder_level_fills_more_of_the_bar() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        meter = app.query_one(MicMeter)
        meter.show_level(-50.0, -50.0, False)
        quiet = meter.render().plain.count("█")
        meter.show_level(-6.0, -3.0, False)
        loud = meter.render().plain.count("█")
        assert 0 < quiet < loud
        meter.muted = True
        await pilot.pause()
        assert "muted" in meter.render().plain and "█" not in meter.render().plain


async def test_levels_posted_from_another_thread_reach_the_meter() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        meter = app.query_one(MicMeter)
        assert meter.level_dbfs == FLOOR_DBFS

        def audio_thread() -> None:
            for i in range(100):
                app.post_mic_level(-60.0 + i * 0.5, -55.0 + i * 0.5, False)

        worker = threading.Thread(target=audio_thread)
        worker.start()
        worker.join()
        await pilot.pause()
        await pilot.pause()
        assert meter.level_dbfs == -60.0 + 99 * 0.5  # the newest reading wins


async def test_events_and_levels_still_render_while_a_menu_is_open() -> None:
    from tests.ui.conftest import feed
    from voice_tui.core import events as ev
    from voice_tui.ui.screens.personas import PersonaScreen

    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        assert isinstance(app.screen, PersonaScreen)
        app.post_mic_level(-10.0, -3.0, False)
        await feed(pilot, [ev.UserTextSent("u1", "typed while the menu is open")])
        assert isinstance(app.screen, PersonaScreen)  # still open, nothing crashed
        assert app.transcript.turn("u1") is not None
        assert app.screen_stack[0].query_one(MicMeter).level_dbfs == -10.0
