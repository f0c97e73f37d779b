"""Snapshots of the main screen (dark and light, and in small terminals), the persona
menu and an error state.

Scenes are real engine events with fixed values (tests/ui/scenes.py), a fixed clock
and a fixed terminal size; cursor blink and animations are off. Review changes with
`pytest tests/ui/test_snapshots.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.support import scenes
from tests.support.ui import SIZE, detached_app, feed, quiet_settings
from voice_tui.config.schema import Persona
from voice_tui.core.events import AppEvent

Snap = Callable[..., bool]


@pytest.fixture(autouse=True)
def no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


def scene(events: Sequence[AppEvent], theme: str) -> Callable[[Pilot[int]], object]:
    async def run_before(pilot: Pilot[int]) -> None:
        pilot.app.animation_level = "none"
        pilot.app.query_one(Input).cursor_blink = False
        pilot.app.theme = theme
        await feed(pilot, events)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_main_screen(snap_compare: Snap, theme: str) -> None:
    app = detached_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=scene(scenes.CONVERSATION, theme))


@pytest.mark.parametrize("size", [(40, 12), (80, 24)], ids=["40x12", "80x24"])
def test_small_terminal(snap_compare: Snap, size: tuple[int, int]) -> None:
    """The side panel narrows, then goes; the conversation and the input stay usable."""
    app = detached_app()
    assert snap_compare(app, terminal_size=size, run_before=scene(scenes.CONVERSATION, "dark"))


def test_persona_menu(snap_compare: Snap) -> None:
    settings = quiet_settings()
    settings.personas = [
        settings.personas[0],
        Persona(
            name="Brunch host",
            description="Books tables at The Wild Brunch",
            instructions="You take bookings.",
            voice="coral",
            tools=["check_table_availability", "book_table"],
        ),
        Persona(name="Pirate", description="Arr.", instructions="Talk like a pirate.", voice="ash"),
    ]
    app = detached_app(settings)
    assert snap_compare(
        app, press=["p", "down"], terminal_size=SIZE, run_before=scene(scenes.CONVERSATION, "dark")
    )


def test_error_state(snap_compare: Snap) -> None:
    app = detached_app()

    async def run_before(pilot: Pilot[int]) -> None:
        await scene(scenes.ERROR_STATE, "dark")(pilot)  # type: ignore[misc]
        # The error as the user sees it first: its notification, over the screen.
        pilot.app.notify(scenes.ERROR_MESSAGE, title="Error", severity="error", markup=False)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
