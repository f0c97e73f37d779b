"""The mic meter: level, peak hold, clipping latch, muted; levels posted from a thread."""

from __future__ import annotations

import threading

from tests.support.ui import SIZE, detached_app
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
        # The readout has the bar's resolution (a few dB a cell): about -50 dB.
        assert "CLIP" not in shown
        readout = int(shown.split()[-2])
        assert abs(readout - -50) <= 60 / shown.count("█")


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
        # The newest reading wins (readings that land in the same cells are dropped).
        shown = meter.render().plain
        assert shown.count("█") > 20
        meter.show_level(-60.0 + 99 * 0.5, -55.0 + 99 * 0.5, False)  # the newest, again
        assert meter.render().plain == shown  # it was already what the meter showed


async def test_readings_that_change_nothing_on_screen_are_dropped_before_posting() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        meter = app.query_one(MicMeter)
        posted: list[MicLevelChanged] = []
        original = app.post_message

        def spy(message: object) -> bool:
            if isinstance(message, MicLevelChanged):
                posted.append(message)
            return original(message)  # type: ignore[arg-type]

        app.post_message = spy  # type: ignore[method-assign]
        app.post_mic_level(-40.0, -40.0, False)
        await pilot.pause()
        assert len(posted) == 1 and meter.level_dbfs == -40.0
        for _ in range(100):  # a steady room: the same cells every time
            app.post_mic_level(-40.2, -40.1, False)
        assert len(posted) == 1
        app.post_mic_level(-20.0, -20.0, False)  # louder: other cells
        assert len(posted) == 2
        await pilot.pause()
        # Quieter again: the peak hold counts readings, so every reading is wanted
        # until the held peak has decayed, then steady readings stop again.
        for _ in range(PEAK_HOLD_UPDATES + 40):
            app.post_mic_level(-40.0, -40.0, False)
            await pilot.pause()
        assert meter.peak_dbfs == -40.0
        count = len(posted)
        for _ in range(30):
            app.post_mic_level(-40.0, -40.0, False)
        assert len(posted) == count


async def test_a_reading_in_the_same_cells_does_not_repaint() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        meter = app.query_one(MicMeter)
        meter.show_level(-30.0, -30.0, False)
        await pilot.pause()
        refreshes: list[object] = []
        original = meter.refresh

        def counting_refresh(*args: object, **kwargs: object) -> object:
            refreshes.append(args)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        meter.refresh = counting_refresh  # type: ignore[method-assign, assignment]
        meter.show_level(-30.3, -30.0, False)
        assert refreshes == []
        meter.show_level(-10.0, -10.0, False)
        assert len(refreshes) == 1


async def test_events_and_levels_still_render_while_a_menu_is_open() -> None:
    from tests.support.ui import feed
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
