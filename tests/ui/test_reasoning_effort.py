"""The reasoning effort of a reasoning model: shown in the status bar, changed live with
its key (or the palette), sent as session.update, and remembered in the config."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tomli_w

from tests.ui.conftest import SIZE
from tests.ui.support import (
    API_KEY,
    KeywordResponder,
    components,
    live_app,
    live_loaded,
    only_session,
    until,
)
from voice_tui.config.loader import load_settings
from voice_tui.core.events import ConnectionState
from voice_tui.server.app import LocalServer, start_server


@pytest.fixture
async def any_model_server(responder: KeywordResponder) -> AsyncIterator[LocalServer]:
    srv = await start_server(components=components(responder), api_key=API_KEY)
    try:
        yield srv
    finally:
        await srv.close()


async def test_reasoning_key_changes_the_effort_live_and_it_is_saved(
    any_model_server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(any_model_server, tmp_path)
    data = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
    data["backend"]["model"] = "gpt-realtime-2.1"
    loaded.path.write_text(tomli_w.dumps(data), encoding="utf-8")
    app = live_app(load_settings(loaded.path, env={}), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connection is ConnectionState.CONNECTED, "connected")
        await until(pilot, lambda: app.status_bar.info.reasoning == "low", "effort shown")
        assert "thinks low" in app.status_bar.render().plain
        session = only_session(any_model_server)
        assert session.config.reasoning is not None and session.config.reasoning.effort == "low"
        await pilot.press("escape", "r")
        await until(pilot, lambda: app.status_bar.info.reasoning == "medium", "medium")
        assert session.config.reasoning.effort == "medium"  # the live session has it
        await app.set_reasoning_effort("xhigh")  # what the palette's entry runs
        assert session.config.reasoning.effort == "xhigh"
        assert "thinks xhigh" in app.status_bar.render().plain
        await app.workers.wait_for_complete()
    saved = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
    assert saved["session"]["reasoning_effort"] == "xhigh"


async def test_a_model_that_does_not_reason_says_so(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)  # gpt-realtime: no reasoning
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status_bar.info.model != "", "session ready")
        assert app.status_bar.info.reasoning == "" and "thinks" not in app.status_bar.render().plain
        await pilot.press("escape", "r")
        await until(
            pilot,
            lambda: any("does not reason" in str(n.message) for n in app._notifications),
            "the notice",
        )
        assert only_session(server).config.reasoning is None


def test_status_bar_shows_reasoning_tokens_and_unknown_prices() -> None:
    from voice_tui.core.usage import TurnUsage, UsageTotals
    from voice_tui.ui.widgets.status_bar import StatusInfo, status_text

    turn = TurnUsage(output_text_tokens=120, output_reasoning_tokens=80, cost_usd=0.0, priced=False)
    info = StatusInfo(
        backend="azure", model="team-voice", totals=UsageTotals().add(turn), last_turn=turn
    )
    text = status_text(info).plain
    assert "120 tok (80 reasoning) price unknown" in text
    assert "$0.0000" not in text  # an unknown price is never shown as free
    priced = TurnUsage(output_text_tokens=10, cost_usd=0.0123)
    shown = status_text(StatusInfo(totals=UsageTotals().add(priced), last_turn=priced)).plain
    assert "10 tok $0.0123" in shown
