"""The transcript pane, fed real engine events through the app's message path."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Markdown

from tests.support.ui import SIZE, detached_app, feed, until
from voice_tui.core import events as ev
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.usage import UsageTotals
from voice_tui.ui.widgets.transcript import (
    AssistantTurn,
    LiveAssistantTurn,
    Transcript,
    UserTurn,
)


def at_bottom(transcript: Transcript) -> bool:
    return transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y


def body_text(view: object) -> Text:
    assert isinstance(view, UserTurn | AssistantTurn)
    return view.body_text()


def title(view: object) -> str:
    assert isinstance(view, UserTurn | AssistantTurn)
    return view.title().plain


async def test_user_turn_placed_before_the_answer_even_when_its_transcript_comes_later() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.SpeechStarted("u1", 0),
                ev.SpeechStopped("u1", 900),
                ev.UserTurnStarted("u1", None),
                ev.AssistantTurnStarted("a1", "r1", "u1"),
                ev.AssistantDelta("a1", "It is "),
                ev.UserTranscriptDelta("u1", "what "),
                ev.UserTranscriptDelta("u1", "time"),
                ev.AssistantDelta("a1", "noon."),
                ev.UserTranscriptFinal("u1", "What time is it?"),
                ev.AssistantFinal("a1", "It is noon."),
            ],
        )
        turns = app.transcript.turns()
        assert [(t.role, t.item_id) for t in turns] == [("user", "u1"), ("assistant", "a1")]
        user, assistant = turns
        assert isinstance(user, UserTurn) and isinstance(assistant, AssistantTurn)
        assert body_text(user).plain == "What time is it?"  # the final replaced the partial
        assert not user.partial
        assert assistant.text == "It is noon."
        assert "09:26:53" in title(user)


async def test_a_late_user_turn_is_inserted_after_the_item_it_follows() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.UserTextSent("u1", "hello"),
                ev.AssistantTurnStarted("a1", "r1", "u1"),
                ev.AssistantFinal("a1", "Hi."),
                # The engine learns of u2 late; it follows a1, and a2 (already
                # announced) follows u2.
                ev.AssistantTurnStarted("a2", "r2", "u2"),
                ev.UserTurnStarted("u2", "a1"),
            ],
        )
        assert [t.item_id for t in app.transcript.turns()] == ["u1", "a1", "u2", "a2"]


async def test_partial_transcription_shown_live_then_replaced() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [ev.UserTurnStarted("u1", None), ev.UserTranscriptDelta("u1", "book a")])
        user = app.transcript.turn("u1")
        assert isinstance(user, UserTurn)
        assert body_text(user).plain == "book a"
        assert user.partial
        await feed(pilot, [ev.UserTranscriptFinal("u1", "Book a table for two.")])
        assert body_text(user).plain == "Book a table for two."
        assert not user.partial
        # A delta arriving after the final one does not corrupt it.
        await feed(pilot, [ev.UserTranscriptDelta("u1", " stray")])
        assert body_text(user).plain == "Book a table for two."


async def test_failed_transcription_and_typed_turn_are_marked() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.UserTurnStarted("u1", None),
                ev.UserTranscriptFailed("u1", "audio too short"),
                ev.UserTextSent("u2", "typed words"),
            ],
        )
        failed = app.transcript.turn("u1")
        typed = app.transcript.turn("u2")
        assert isinstance(failed, UserTurn) and isinstance(typed, UserTurn)
        assert "transcription failed: audio too short" in body_text(failed).plain
        assert body_text(typed).plain == "typed words"
        assert "typed" in title(typed)


async def test_interrupted_turn_shows_heard_and_struck_unheard_parts() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.AssistantTurnStarted("a1", "r1", None),
                ev.AssistantDelta("a1", "The weather in Paris is sunny and warm today."),
                ev.AssistantInterrupted(
                    "a1",
                    heard_ms=1200,
                    received_ms=3000,
                    heard_text="The weather in Paris",
                    unheard_text="is sunny and warm today.",
                    truncate_sent=True,
                ),
            ],
        )
        view = app.transcript.turn("a1")
        assert isinstance(view, AssistantTurn) and view.interrupted
        assert not app.transcript.query(Markdown)  # the stream was closed and replaced
        body = body_text(view)
        assert body.plain == "The weather in Paris is sunny and warm today."
        unheard_start = body.plain.index("is sunny")
        unheard_spans = [span for span in body.spans if span.start >= unheard_start]
        assert len(unheard_spans) == 1 and unheard_spans[0].end == len(body.plain)
        assert unheard_spans[0].style.strike  # type: ignore[union-attr]
        assert not [span for span in body.spans if span.start < unheard_start]
        assert "interrupted" in title(view)
        # Late words of the cancelled response are not added to the cut turn.
        await feed(pilot, [ev.AssistantDelta("a1", " more"), ev.AssistantFinal("a1", "x")])
        assert body_text(view).plain == "The weather in Paris is sunny and warm today."


async def test_markup_in_transcripts_is_shown_literally() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.UserTextSent("u1", "say [bold]hi[/bold] and [link=x]"),
                ev.ErrorRaised("bad [/] markup"),
            ],
        )
        user = app.transcript.turn("u1")
        assert isinstance(user, UserTurn)
        assert body_text(user).plain == "say [bold]hi[/bold] and [link=x]"
        note = app.transcript.notes()[-1]
        assert "bad [/] markup" in note.text.plain


async def test_tool_calls_inline_in_brief() -> None:
    app = detached_app()
    arguments = '{"date": "2026-03-14", "party_size": 4, "notes": "' + "x" * 100 + '"}'
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, [ev.ToolCallStarted("c1", "book_table", arguments)])
        note = app.transcript.notes()[-1]
        assert "book_table(" in note.text.plain and "running" in note.text.plain
        await feed(
            pilot,
            [
                ev.ToolCallFinished(
                    "c1", "book_table", arguments, '{"error": "full"}', False, "fully booked", 0.25
                )
            ],
        )
        assert app.transcript.notes()[-1] is note  # updated in place
        shown = note.text.plain
        assert "✗ fully booked" in shown and "250 ms" in shown
        assert "x" * 100 not in shown  # arguments are shown in brief
        assert note.failed


async def test_thousands_of_deltas_arrive_complete_and_in_order() -> None:
    app = detached_app()
    turns, deltas_per_turn = 120, 25
    events: list[ev.AppEvent] = []
    expected: list[tuple[str, str]] = []
    for t in range(turns):
        user_id, assistant_id = f"u{t}", f"a{t}"
        events += [ev.UserTurnStarted(user_id, f"a{t - 1}" if t else None)]
        events += [ev.UserTranscriptDelta(user_id, f"q{t}w{i} ") for i in range(4)]
        events += [ev.AssistantTurnStarted(assistant_id, f"r{t}", user_id)]
        words = [f"t{t}w{i} " for i in range(deltas_per_turn)]
        events += [ev.AssistantDelta(assistant_id, w) for w in words]
        events += [ev.UserTranscriptFinal(user_id, f"question {t}")]
        events += [ev.ResponseFinished(f"r{t}", "completed", None, ev.UsageTotals())]
        expected += [(user_id, f"question {t}"), (assistant_id, "".join(words))]
    assert sum(isinstance(e, ev.AssistantDelta) for e in events) == turns * deltas_per_turn
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, events)
        shown: list[tuple[str, str]] = []
        for view in app.transcript.turns():
            if isinstance(view, UserTurn):
                shown.append((view.item_id, body_text(view).plain))
            else:
                assert isinstance(view, AssistantTurn)
                shown.append((view.item_id, view.text))
        assert shown == expected
        # A turn still being spoken streams into Markdown: every delta lands, in order.
        words = [f"live{i} " for i in range(600)]
        await feed(pilot, [ev.AssistantTurnStarted("live", "rl", None)])
        await feed(pilot, [ev.AssistantDelta("live", w) for w in words])
        live = app.transcript.turn("live")
        assert isinstance(live, LiveAssistantTurn)
        await live.close_stream()
        assert live.query_one(Markdown).source == "".join(words)
        # The pane follows the bottom while the user has not scrolled up.
        await until(pilot, lambda: at_bottom(app.transcript), "following the bottom")


async def test_follows_the_bottom_until_the_user_scrolls_up() -> None:
    app = detached_app()

    def exchange(n: int) -> list[ev.AppEvent]:
        return [
            ev.UserTextSent(f"u{n}", f"question {n}"),
            ev.AssistantTurnStarted(f"a{n}", f"r{n}", f"u{n}"),
            ev.AssistantDelta(f"a{n}", f"Answer {n}.\n\nWith a second paragraph."),
            ev.AssistantFinal(f"a{n}", f"Answer {n}.\n\nWith a second paragraph."),
        ]

    async with app.run_test(size=SIZE) as pilot:
        transcript = app.transcript
        await feed(pilot, [e for n in range(20) for e in exchange(n)])
        assert transcript.max_scroll_y > 0
        await until(pilot, lambda: at_bottom(transcript), "following the bottom")
        transcript.focus()
        await pilot.press("pageup", "pageup")  # the user reads back
        await pilot.pause()
        reading_at = transcript.scroll_y
        assert reading_at < transcript.max_scroll_y
        await feed(pilot, exchange(20))
        assert transcript.scroll_y == reading_at  # not yanked to the bottom
        await pilot.press("end")  # back at the bottom: follow again
        await feed(pilot, exchange(21))
        await until(pilot, lambda: at_bottom(transcript), "following again")


async def test_an_answer_cut_after_it_was_done_is_shown_once_struck_through() -> None:
    """Cut while still playing, the finished answer is amended (TurnAmended, for the
    journal): the transcript strikes the unheard part of its one row, adds no other."""
    text = "The weather in Paris is sunny and warm today."
    turn = Turn(Role.ASSISTANT, "a1", text)
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            [
                ev.AssistantTurnStarted("a1", "r1", None),
                ev.AssistantDelta("a1", text),
                ev.AssistantFinal("a1", text),
                ev.ResponseFinished("r1", "completed", None, UsageTotals()),
                ev.TurnCompleted(turn),
            ],
        )
        turn.cut_off("The weather in Paris")
        await feed(
            pilot,
            [  # in the order the engine emits them
                ev.TurnAmended(turn),
                ev.AssistantInterrupted(
                    "a1",
                    heard_ms=1200,
                    received_ms=3000,
                    heard_text="The weather in Paris",
                    unheard_text="is sunny and warm today.",
                    truncate_sent=True,
                ),
            ],
        )
        rows = [item for item in app.transcript.items() if isinstance(item, AssistantTurn)]
        assert len(rows) == 1 and rows[0] is app.transcript.turn("a1")
        assert rows[0].interrupted and body_text(rows[0]).plain == text
