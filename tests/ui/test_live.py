"""The whole app against the local server: keys in, what the screen shows and what the
server session receives out. Audio is off (settings.audio.enabled = False)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Input

from tests.support.ui import (
    SIZE,
    KeywordResponder,
    assistant_texts,
    connected,
    live_app,
    live_loaded,
    notes,
    notifications,
    only_session,
    type_message,
    until,
    user_texts,
)
from voice_tui.core.events import ConnectionState
from voice_tui.server.app import LocalServer
from voice_tui.ui.widgets.status_light import LightState, StatusLight
from voice_tui.ui.widgets.tool_log import ToolLog
from voice_tui.ui.widgets.transcript import AssistantTurn, UserTurn


async def test_typed_message_reaches_the_session_and_the_answer_is_shown(
    server: LocalServer, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        assert "Text mode" in "".join(notes(app))  # audio is off: say so, and how to type
        light = app.query_one(StatusLight)
        await until(pilot, lambda: light.state is LightState.IDLE, "idle, not 'listening'")
        await type_message(pilot, "hello [there]")
        await until(pilot, lambda: "You said: hello [there]." in assistant_texts(app), "answer")
        assert user_texts(only_session(server)) == ["hello [there]"]
        user = app.transcript.turns()[0]
        assert isinstance(user, UserTurn) and user.text == "hello [there]"
        assert app.query_one("#message", Input).value == ""  # sent: the line is cleared
        await until(pilot, lambda: app.status_bar.info.latency_s is not None, "latency")
        info = app.status_bar.info
        assert info.backend == "openai" and info.model == "gpt-realtime"
        assert info.totals.turns == 1 and info.last_turn is not None
        assert info.last_turn.total_tokens > 0


async def test_tool_call_in_transcript_and_tool_log(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await type_message(pilot, "what time is it")
        await until(
            pilot,
            lambda: any(t.startswith("The tool says") for t in assistant_texts(app)),
            "answer",
        )
        log = app.query_one(ToolLog)
        [entry] = log._entries.values()
        shown = str(entry.content)
        assert "get_current_time" in shown and "✓" in shown and "result" in shown
        assert any("⚙ get_current_time({}) ✓" in n for n in notes(app))
        session = only_session(server)
        outputs = [i for i in session.conversation.items if i.type == "function_call_output"]
        assert len(outputs) == 1 and outputs[0].output in shown.replace("\n", "")


async def test_turn_mode_key_switches_live_and_is_saved(
    server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path)
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        session = only_session(server)
        assert session.config.audio.input.turn_detection is not None
        assert session.config.audio.input.turn_detection.type == "server_vad"
        assert app.focused is app.query_one("#message", Input)  # text mode: typing first
        await pilot.press("escape", "v")
        await until(pilot, lambda: app.status_bar.info.turn_mode.value == "semantic_vad", "mode")
        assert session.config.audio.input.turn_detection.type == "semantic_vad"
        await pilot.press("v")
        await until(pilot, lambda: session.config.audio.input.turn_detection is None, "ptt")
        assert "push-to-talk" in app.status_bar.render().plain
        await app.workers.wait_for_complete()
        saved = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
        assert saved["session"]["turn_detection"] == "push_to_talk"


async def test_push_to_talk_key_starts_and_ends_the_turn(
    server: LocalServer, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path, turn_detection="push_to_talk"), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        light = app.query_one(StatusLight)
        await until(pilot, lambda: light.state is LightState.IDLE, "idle in push-to-talk")
        await pilot.press("escape", "space")
        await until(pilot, lambda: light.state is LightState.USER_SPEAKING, "talking")
        await pilot.press("space")
        # No microphone here, so nothing was recorded: the engine says so, the turn ends.
        await until(pilot, lambda: any("Nothing was recorded" in n for n in notes(app)), "notice")
        assert light.state is LightState.IDLE
        assert not app.talking


async def test_talk_key_in_vad_mode_explains_itself(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("escape", "space")
        await pilot.pause()
        assert any("just speak" in n for n in notifications(app))


async def test_interrupt_key_cancels_the_answer(
    server: LocalServer, responder: KeywordResponder, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await type_message(pilot, "tell me a story")
        runtime = app.runtime
        assert runtime is not None
        await until(
            pilot,
            lambda: runtime.engine.busy and app.transcript.turns()[-1].role == "assistant",
            "story",
        )
        await pilot.press("escape", "x")
        await until(pilot, lambda: not runtime.engine.busy, "cancelled")
        [story] = [t for t in app.transcript.turns() if isinstance(t, AssistantTurn)]
        assert "⏹ cancelled" in story.marks
        assert "happily" not in story.text


async def test_quit_asks_while_a_response_is_in_progress(
    server: LocalServer, responder: KeywordResponder, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await type_message(pilot, "tell me a story")
        runtime = app.runtime
        assert runtime is not None
        await until(pilot, lambda: runtime.engine.busy, "story under way")
        await pilot.press("escape", "q")
        await until(pilot, lambda: len(app.screen_stack) == 2, "the question")
        await pilot.press("n")
        await until(pilot, lambda: len(app.screen_stack) == 1, "answered no")
        assert app.is_running and app.runtime is not None
        await pilot.press("ctrl+q")  # Textual's own quit key asks as well
        await until(pilot, lambda: len(app.screen_stack) == 2, "the question again")
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1, "dismissed")
        responder.release_story.set()
        await until(pilot, lambda: not runtime.engine.busy, "story finished")
        await pilot.press("q")  # nothing in progress: no question
        await until(pilot, lambda: not app.is_running, "quit")
    assert app.return_code == 0
    assert app.runtime is None
    assert not [s for s in server.sessions if not s.closed]


async def test_theme_switch_is_saved(server: LocalServer, tmp_path: Path) -> None:
    loaded = live_loaded(server, tmp_path)
    app = live_app(loaded, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        assert app.theme == "dark"
        await pilot.press("escape", "t")
        assert app.theme == "light"
        await until(pilot, lambda: "light" in loaded.path.read_text(encoding="utf-8"), "saved")
        await app.workers.wait_for_complete()
        saved = tomllib.loads(loaded.path.read_text(encoding="utf-8"))
        assert saved["ui"]["theme"] == "light"
        assert saved["personas"][2]["name"] == "Pirate"  # every other setting kept


async def test_save_transcript_writes_markdown(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await type_message(pilot, "hello")
        await until(pilot, lambda: "You said: hello." in assistant_texts(app), "answer")
        runtime = app.runtime
        assert runtime is not None
        await until(pilot, lambda: len(runtime.engine.conversation) == 2, "turns recorded")
        await pilot.press("escape", "s")
        await until(
            pilot, lambda: any("Transcript saved" in n for n in notifications(app)), "saved"
        )
        [path] = (tmp_path / "transcripts").glob("*.md")
        text = path.read_text(encoding="utf-8")
        assert "hello" in text and "You said: hello." in text
        assert text.index("hello") < text.index("You said")


async def test_a_saved_transcript_shows_each_persona_change(
    server: LocalServer, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await type_message(pilot, "hello")
        await until(pilot, lambda: "You said: hello." in assistant_texts(app), "answer")
        await app.choose_persona("Pirate")
        await until(pilot, lambda: app.persona == "Pirate", "persona applied")
        if len(app.screen_stack) > 1:  # its voice waits for a new session: "Later"
            await pilot.press("escape")
        await pilot.press("escape", "s")
        await until(
            pilot, lambda: any("Transcript saved" in n for n in notifications(app)), "saved"
        )
        [path] = (tmp_path / "transcripts").glob("*.md")
        text = path.read_text(encoding="utf-8")
        assert "- Persona: Assistant, then Pirate\n" in text
        assert text.index("You said: hello.") < text.index("*Persona changed to Pirate")


async def test_mute_and_devices_explain_text_mode(server: LocalServer, tmp_path: Path) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("escape", "m", "d")
        await pilot.pause()
        shown = notifications(app)
        assert "No microphone in text mode." in shown
        assert any("no devices" in n.lower() or "audio" in n.lower() for n in shown[-1:])
        assert not app.muted


async def test_a_message_typed_while_reconnecting_is_held_and_said_so(
    server: LocalServer, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await server.close()  # the server goes away
        await until(pilot, lambda: app.connection is not ConnectionState.CONNECTED, "lost")
        await type_message(pilot, "are you [still] there")
        # The engine holds it until the conversation is restored (nothing is lost).
        await until(pilot, lambda: any("sent once connected" in n for n in notes(app)), "held")
        assert app.query_one("#message", Input).value == ""
        assert not [t for t in app.transcript.turns() if isinstance(t, UserTurn)]  # not yet


async def test_resume_shows_the_earlier_conversation_first(
    server: LocalServer, tmp_path: Path
) -> None:
    loaded = live_loaded(server, tmp_path)
    first = live_app(loaded, tmp_path)
    async with first.run_test(size=SIZE) as pilot:
        await connected(pilot, first)
        await type_message(pilot, "what time is it")
        await until(
            pilot, lambda: any(t.startswith("The tool says") for t in assistant_texts(first)), "1"
        )
        await pilot.press("escape", "q")
        await until(pilot, lambda: not first.is_running, "quit")

    again = live_app(loaded, tmp_path, resume=True)
    async with again.run_test(size=SIZE) as pilot:
        await connected(pilot, again)
        turns = again.transcript.turns()
        assert [t.role for t in turns] == ["user", "assistant"]
        assert isinstance(turns[0], UserTurn) and turns[0].text == "what time is it"
        assert any("get_current_time({}) ✓" in n for n in notes(again))
        assert any("Resumed: 2 earlier turns" in n for n in notes(again))
        await type_message(pilot, "hello")
        await until(pilot, lambda: "You said: hello." in assistant_texts(again), "new answer")
        assert [t.role for t in again.transcript.turns()] == [
            "user",
            "assistant",
            "user",
            "assistant",
        ]


async def test_the_input_line_says_when_letters_are_commands(
    server: LocalServer, tmp_path: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        line = app.query_one("#message", Input)
        await pilot.press("escape")  # keys are commands now: the line must not look ready
        assert not line.has_focus
        assert line.placeholder == "Press ⏎ to type a message"
        await pilot.press("enter", "m")  # focused: "m" is a letter, not the mute key
        assert line.has_focus
        assert line.placeholder.startswith("Type a message")
        assert line.value == "m"
        assert not app.muted
