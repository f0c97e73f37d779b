"""The message line under floods: a paste the terminal types out key by key (no
bracketed paste), a bracketed paste, typing at the limit, and `/file PATH`.

Key events are posted the way Textual's driver posts them, all queued at once, with the
creation times a terminal's burst has (microseconds apart) or a person's (far apart).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.message import Message
from textual.pilot import Pilot

from tests.support.ui import (
    SIZE,
    connected,
    detached_app,
    live_app,
    live_loaded,
    notifications,
    only_session,
    until,
    user_texts,
)
from voice_tui.server.app import LocalServer
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.key_burst import BURST_GAP_S, KeyBurst
from voice_tui.ui.typed import MAX_FILE_CHARS, MAX_TYPED_CHARS, TypedError, read_message_file
from voice_tui.ui.widgets.message_input import MessageInput
from voice_tui.ui.widgets.transcript import UserTurn

WORDS = "the quick brown fox jumps over the lazy dog; quit now, then new theme please. "


def key_for(char: str) -> events.Key:
    names = {" ": "space", "\r": "enter", ";": "semicolon", ",": "comma", ".": "full_stop"}
    if char == "\r":
        return events.Key("enter", "\r")
    return events.Key(names.get(char, char), char)


def typed_out(text: str, *, start: float = 1000.0, step: float = 1e-5) -> list[events.Key]:
    """`text` as the key events of a terminal typing it out, `step` seconds apart."""
    keys = [key_for(c) for c in text]
    for i, key in enumerate(keys):
        key.time = start + i * step
    return keys


def post_all(app: VoiceApp, keys: list[events.Key]) -> None:
    for key in keys:
        app.post_message(key)


class Changes:
    """Counts the line's Changed messages: one per insertion into the line."""

    def __init__(self, app: VoiceApp) -> None:
        self.count = 0
        app.message_signal.subscribe(app, self._seen, immediate=True)

    def _seen(self, message: Message) -> None:
        if isinstance(message, MessageInput.Changed):
            self.count += 1


async def settle(pilot: Pilot[int]) -> None:
    await pilot.pause()
    await pilot.pause()


# -- the burst detector on its own ---------------------------------------------------------


class Queue:
    def __init__(self, keys: list[events.Key]) -> None:
        self.keys = list(keys)

    def peek(self) -> Message | None:
        return self.keys[0] if self.keys else None

    def pop(self) -> None:
        self.keys.pop(0)


def test_keys_queued_together_are_one_paste_and_a_final_enter_stays_a_key() -> None:
    queue = Queue(typed_out("one\rtwo\r"))
    first = queue.keys.pop(0)
    burst = KeyBurst().take(first, queue.peek, queue.pop)
    assert burst is not None
    assert burst.text == "one\ntwo"
    assert burst.trailing is not None and burst.trailing.key == "enter"
    assert not queue.keys


def test_keys_a_person_types_stay_keys() -> None:
    queue = Queue(typed_out("qnt", step=0.08))
    detector = KeyBurst()
    while queue.keys:
        first = queue.keys.pop(0)
        assert detector.take(first, queue.peek, queue.pop) is None


def test_a_paste_read_in_pieces_continues() -> None:
    detector = KeyBurst()
    first_piece = Queue(typed_out("abc", start=10.0))
    burst = detector.take(first_piece.keys.pop(0), first_piece.peek, first_piece.pop)
    assert burst is not None and not burst.continues
    # The next piece comes later than keys within a piece, but sooner than a person types.
    second = Queue(typed_out("d", start=10.0 + 2 * 1e-5 + 5 * BURST_GAP_S))
    burst = detector.take(second.keys.pop(0), second.peek, second.pop)
    assert burst is not None and burst.continues and burst.text == "d"


def test_an_enter_soon_after_a_paste_is_the_users() -> None:
    detector = KeyBurst()
    piece = Queue(typed_out("hello", start=10.0))
    assert detector.take(piece.keys.pop(0), piece.peek, piece.pop) is not None
    enter = typed_out("\r", start=10.0 + 0.15)[0]  # a quick person, not a read boundary
    assert detector.take(enter, Queue([]).peek, Queue([]).pop) is None


# -- the app ---------------------------------------------------------------------------------


async def test_a_long_paste_typed_out_by_the_terminal_is_refused_whole_and_said_once() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(MessageInput)
        line.focus()
        changes = Changes(app)
        text = (WORDS * 200)[: MAX_TYPED_CHARS + 2_000]
        post_all(app, typed_out(text))
        await settle(pilot)
        # Refused as a whole, not inserted key by key up to the limit (each insertion
        # costs in proportion to the line: thousands of them froze the app).
        assert line.value == ""
        assert changes.count == 0
        shown = [n for n in notifications(app) if "typed message holds at most" in n]
        assert len(shown) == 1 and "/file PATH" in shown[0]


async def test_a_paste_typed_out_while_keys_are_commands_lands_in_the_line() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(MessageInput)
        assert not line.has_focus
        theme = app.theme
        post_all(app, typed_out(WORDS))  # "q", "n", "t", "x", "p"... all inside
        await settle(pilot)
        assert app.is_running and len(app.screen_stack) == 1  # no quit question, no menu
        assert app.theme == theme
        assert line.has_focus and line.value == WORDS


async def test_a_multi_line_paste_typed_out_is_one_message_not_one_per_line() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(MessageInput)
        line.focus()
        submitted: list[str] = []
        app.message_signal.subscribe(
            app,
            lambda m: submitted.append(m.value) if isinstance(m, MessageInput.Submitted) else None,
            immediate=True,
        )
        post_all(app, typed_out("first line\rsecond line\rthird"))
        await settle(pilot)
        assert line.value == "first line second line third"
        assert submitted == []


async def test_a_bracketed_paste_keeps_every_line_and_a_huge_one_is_refused() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(MessageInput)
        line.focus()
        app.post_message(events.Paste("alpha\nbeta\r\ngamma"))
        await settle(pilot)
        assert line.value == "alpha beta gamma"
        app.post_message(events.Paste("x" * 100_000))
        await settle(pilot)
        assert line.value == "alpha beta gamma"  # nothing lost, nothing half-pasted
        [shown] = [n for n in notifications(app) if "typed message holds at most" in n]
        assert "100,016 characters" in shown and "nothing was pasted" in shown


async def test_typing_at_the_limit_is_refused_and_said_once() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(MessageInput)
        line.focus()
        line.value = "a" * MAX_TYPED_CHARS
        await pilot.pause()
        line.action_end()  # focusing selected it all: type after it instead
        await pilot.press("b", "c", "d")
        assert line.value == "a" * MAX_TYPED_CHARS
        shown = [n for n in notifications(app) if "typed message holds at most" in n]
        assert len(shown) == 1


# -- /file ------------------------------------------------------------------------------------


@pytest.fixture
def notes_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "notes.txt"
    path.write_text("Shopping list:\n- eggs\n- [flour]\n", encoding="utf-8")
    yield path


async def test_file_command_sends_the_file_text(
    server: LocalServer, tmp_path: Path, notes_file: Path
) -> None:
    app = live_app(live_loaded(server, tmp_path), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        line = app.query_one(MessageInput)
        line.focus()
        line.value = f"/file {tmp_path / 'missing.txt'}"
        await pilot.press("enter")
        await until(pilot, lambda: any("No such file" in n for n in notifications(app)), "error")
        assert line.value.startswith("/file ")  # kept, to correct
        line.value = f"/file {notes_file}"
        await pilot.press("enter")
        session = only_session(server)
        await until(pilot, lambda: user_texts(session) != [], "sent")
        assert user_texts(session) == ["Shopping list:\n- eggs\n- [flour]"]
        assert line.value == ""
        await until(
            pilot, lambda: any(isinstance(t, UserTurn) for t in app.transcript.turns()), "shown"
        )
        [user] = [t for t in app.transcript.turns() if isinstance(t, UserTurn)]
        assert "📄 notes.txt" in user.marks


def test_file_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    def problem(argument: str) -> str:
        with pytest.raises(TypedError) as caught:
            read_message_file(argument, cwd=tmp_path)
        return str(caught.value)

    assert "/file needs a file" in problem("")
    assert "No such file" in problem("nowhere.txt")
    assert "is a folder" in problem(str(tmp_path))
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    assert "empty" in problem("empty.txt")
    (tmp_path / "image.bin").write_bytes(b"\x89PNG\x00\x00")
    assert "not a text file" in problem("image.bin")
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    assert "not UTF-8" in problem("latin.txt")
    (tmp_path / "long.txt").write_text("y" * (MAX_FILE_CHARS + 1), encoding="utf-8")
    assert f"{MAX_FILE_CHARS + 1:,} characters" in problem("long.txt")
    (tmp_path / "huge.txt").write_text("z" * (MAX_FILE_CHARS * 5), encoding="utf-8")
    assert "bytes" in problem("huge.txt")  # not even read


def test_a_quoted_or_relative_path_is_found(tmp_path: Path) -> None:
    (tmp_path / "my notes.txt").write_text("hello", encoding="utf-8")
    assert read_message_file("'my notes.txt'", cwd=tmp_path).text == "hello"
    assert read_message_file(f'"{tmp_path / "my notes.txt"}"').text == "hello"
