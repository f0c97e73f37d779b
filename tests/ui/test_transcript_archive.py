"""A long transcript: older rows go into the archive (one widget drawing only the lines
on screen), look exactly as they did, can still change, and a streamed word lays out
nothing but the turn being streamed."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.support.ui import SIZE, detached_app, feed, until
from voice_tui.core import events as ev
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.usage import UsageTotals
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.widgets import transcript as transcript_module
from voice_tui.ui.widgets.archive import TranscriptArchive
from voice_tui.ui.widgets.transcript import (
    TAIL_MAX,
    AssistantTurn,
    LiveAssistantTurn,
    RowView,
    UserTurn,
)


def exchange(n: int) -> list[ev.AppEvent]:
    return [
        ev.UserTextSent(f"u{n}", f"question {n}"),
        ev.AssistantTurnStarted(f"a{n}", f"r{n}", f"u{n}"),
        ev.AssistantDelta(f"a{n}", f"Answer **{n}**."),
        ev.AssistantFinal(f"a{n}", f"Answer **{n}**."),
        ev.ResponseFinished(f"r{n}", "completed", None, UsageTotals()),
    ]


def finished_turns(count: int) -> list[Turn]:
    started = datetime(2026, 3, 14, 9, 0, 0).timestamp()
    turns = []
    for n in range(count):
        role = Role.USER if n % 2 == 0 else Role.ASSISTANT
        text = f"question {n}" if role is Role.USER else f"Answer **{n}** with more words " * 3
        turns.append(Turn(role=role, item_id=f"t{n}", text=text, started_at=started))
    return turns


async def test_a_long_conversation_keeps_a_bounded_number_of_widgets_all_turns_in_order() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [e for n in range(60) for e in exchange(n)])
        transcript = app.transcript
        assert transcript.archived > 0
        assert len(transcript.children) <= TAIL_MAX + 1  # the archive + the newest rows
        shown = [(t.item_id, t.text) for t in transcript.turns()]
        expected = [
            pair
            for n in range(60)
            for pair in ((f"u{n}", f"question {n}"), (f"a{n}", f"Answer **{n}**."))
        ]
        assert shown == expected


async def test_finished_turns_are_not_laid_out_again_while_a_turn_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.transcript.append_finished(finished_turns(200))
        await feed(
            pilot, [ev.AssistantTurnStarted("live", "r", None), ev.AssistantDelta("live", "a")]
        )
        measured: list[object] = []
        for cls in (RowView, TranscriptArchive):
            original = cls.get_content_height

            def counting(self: object, *args: object, _original: object = original) -> int:
                measured.append(self)
                return _original(self, *args)  # type: ignore[operator, no-any-return]

            monkeypatch.setattr(cls, "get_content_height", counting)
        regions = {
            w: w.virtual_region
            for w in app.transcript.children
            if not isinstance(w, LiveAssistantTurn)
        }
        words = [f"word{i} " for i in range(80)]  # several lines: the live turn grows
        await feed(pilot, [ev.AssistantDelta("live", w) for w in words])
        assert measured == []  # nothing above the streaming turn was measured again
        assert {w: w.virtual_region for w in regions} == regions


@pytest.mark.parametrize("switch_to", [None, "light"])
async def test_archived_rows_look_exactly_as_they_did_as_widgets(
    monkeypatch: pytest.MonkeyPatch, switch_to: str | None
) -> None:
    turns = finished_turns(12)
    screens = []
    for keep in (len(turns), 2):  # all rows as widgets; then all but two archived
        monkeypatch.setattr(transcript_module, "TAIL_KEEP", keep)
        app = detached_app()
        async with app.run_test(size=SIZE) as pilot:
            app.theme = "dark"
            await app.transcript.append_finished(turns)
            await pilot.pause()
            assert app.transcript.archived == len(turns) - keep
            if switch_to:  # drawn in one theme, then the theme changes
                app.theme = switch_to
                await pilot.pause()
            app.transcript.scroll_home(animate=False)
            await pilot.pause()
            screens.append(screen_text_and_styles(app))
    assert screens[0] == screens[1]
    assert any("question 0" in line for line, _ in screens[0])


async def test_a_tall_archive_is_filed_in_few_spatial_bands() -> None:
    # Relies on Textual internals (the arrangement's spatial map): if they change, this
    # says so rather than the 10,000-turn benchmark quietly growing again.
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.transcript.append_finished(finished_turns(2000))
        await pilot.pause()
        transcript = app.transcript
        assert transcript.virtual_size.height > 5000
        arrangement = transcript.arrange(transcript.scrollable_content_region.size)
        assert len(arrangement.spatial_map._map) <= 2


async def test_after_a_resize_a_long_archive_is_rewrapped_between_frames() -> None:
    turns = finished_turns(400)
    wide, narrow = (160, 40), (90, 40)
    fresh = detached_app()
    async with fresh.run_test(size=narrow) as pilot:
        await fresh.transcript.append_finished(turns)
        await pilot.pause()
        fresh.transcript.scroll_home(animate=False)
        await pilot.pause()
        expected = screen_text_and_styles(fresh)
        expected_height = fresh.transcript.virtual_size.height
    app = detached_app()
    async with app.run_test(size=wide) as pilot:
        await app.transcript.append_finished(turns)
        await pilot.pause()
        archive = app.transcript.query_one(TranscriptArchive)
        steps: list[bool] = []
        wrap_some = archive._wrap_some

        def counted() -> None:
            steps.append(archive.rewrapping)
            wrap_some()

        archive._wrap_some = counted  # type: ignore[method-assign]
        await pilot.resize_terminal(*narrow)
        await until(pilot, lambda: not archive.rewrapping, "rewrapped")
        assert len(steps) > 3 and all(steps)  # a few rows per frame, not all at once
        await pilot.pause()
        assert app.transcript.virtual_size.height == expected_height
        app.transcript.scroll_home(animate=False)
        await pilot.pause()
        assert screen_text_and_styles(app) == expected


async def test_an_archived_turn_still_changes_and_only_it_is_measured_again() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        # u0's transcript is slow: by the time it comes, u0 is long archived.
        await feed(pilot, [ev.UserTurnStarted("u0", None), ev.UserTranscriptDelta("u0", "boo")])
        await feed(pilot, [e for n in range(1, 30) for e in exchange(n)])
        user = app.transcript.turn("u0")
        assert isinstance(user, UserTurn) and app.transcript.archived > 0
        assert user.host is app.transcript.query_one(TranscriptArchive)
        tail = {w: w.virtual_region for w in app.transcript.children if isinstance(w, RowView)}
        await feed(pilot, [ev.UserTranscriptFinal("u0", "Book a table for two. " * 12)])
        assert user.body_text().plain.startswith("Book a table for two.")
        moved = {w: w.virtual_region for w in tail}
        grew = {w: moved[w].y - tail[w].y for w in tail}
        assert len(set(grew.values())) == 1 and next(iter(grew.values())) > 0  # pushed down
        app.transcript.scroll_home(animate=False)
        await pilot.pause()
        assert "Book a table for two." in screen_text(app)
        # Marks on an archived assistant turn (its response ended after it moved).
        await feed(pilot, [ev.ResponseFinished("r1", "cancelled", None, UsageTotals())])
        answer = app.transcript.turn("a1")
        assert isinstance(answer, AssistantTurn) and "⏹ cancelled" in answer.title().plain


async def test_a_late_turn_is_placed_after_an_archived_one() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [e for n in range(30) for e in exchange(n)])
        assert isinstance(app.transcript.turn("a2"), AssistantTurn)
        await feed(pilot, [ev.UserTurnStarted("late", "a2"), ev.UserTranscriptFinal("late", "hi")])
        ids = [t.item_id for t in app.transcript.turns()]
        assert ids[ids.index("a2") + 1] == "late"


def screen_text(app: VoiceApp) -> str:
    return "\n".join(line for line, _ in screen_lines(app))


def screen_text_and_styles(app: VoiceApp) -> list[tuple[str, list[str]]]:
    return screen_lines(app)


def screen_lines(app: VoiceApp) -> list[tuple[str, list[str]]]:
    """The transcript area as text and a style name per cell run (from the SVG export,
    with its per-export prefix removed)."""
    svg = re.sub(r"terminal-\d+-", "terminal-", app.export_screenshot())
    styles = dict(re.findall(r"\.(terminal-r\d+) \{([^}]*)\}", svg))
    rows: dict[str, list[tuple[float, str, str]]] = {}
    for cls, x, y, text in re.findall(
        r'<text class="([^"]*)" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg
    ):
        rows.setdefault(y, []).append((float(x), text.replace("&#160;", " "), styles.get(cls, "")))
    lines = []
    for y in sorted(rows, key=float):
        runs = sorted(rows[y])
        lines.append(
            ("".join(t for _, t, _ in runs).rstrip(), [s for _, t, s in runs if t.strip()])
        )
    return lines
