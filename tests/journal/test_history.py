"""`voice-tui history`: list past sessions, export one to Markdown, `--resume` source."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.turns import T0, sample_turns
from voice_tui.cli import main
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.events import PersonaApplied
from voice_tui.core.usage import UsageTotals
from voice_tui.journal.history import (
    SessionNotFound,
    export_markdown,
    last_session,
    list_sessions,
    load_session,
)
from voice_tui.journal.journal import Journal, SessionMeta, read_session


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data dir and config, as the CLI sees them."""
    monkeypatch.setenv("VOICE_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICE_TUI_CONFIG", str(tmp_path / "config.toml"))
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def write_session(
    directory: Path,
    turns: list[Turn],
    *,
    started_at: float,
    persona: str = "Assistant",
    totals: UsageTotals | None = None,
    close: bool = True,
) -> str:
    journal = Journal.open(directory, SessionMeta("local", "offline-1", persona, started_at))
    for turn in turns:
        journal.append_turn(turn)
    if close:
        journal.close(totals=totals, reason="user quit")
    return journal.session_id


def test_list_newest_first_without_empty_sessions(tmp_path: Path) -> None:
    old = write_session(tmp_path, sample_turns(), started_at=T0, persona="Wild Brunch")
    write_session(tmp_path, [], started_at=T0 + 50)  # opened and closed, nothing said
    new = write_session(
        tmp_path,
        [Turn(Role.USER, "u", "  Tell me   a joke\nplease  ", started_at=T0 + 100)],
        started_at=T0 + 100,
    )
    sessions = list_sessions(tmp_path)
    assert [s.session_id for s in sessions] == [new, old]
    assert (sessions[0].turns, sessions[0].first_user_words) == (1, "Tell me   a joke\nplease")
    assert (sessions[1].persona, sessions[1].turns) == ("Wild Brunch", 4)
    assert sessions[1].first_user_words == "Can you book a table for four on Saturday?"
    assert len(list_sessions(tmp_path, include_empty=True)) == 3
    assert list_sessions(tmp_path / "missing") == []


def test_markdown_export_holds_the_whole_conversation(tmp_path: Path) -> None:
    totals = UsageTotals(turns=2, input_tokens=420, output_tokens=320, cost_usd=0.0321)
    sid = write_session(tmp_path, sample_turns(), started_at=T0, totals=totals)
    md = export_markdown(load_session(sid, tmp_path))

    assert md.startswith("# Conversation of 2026-11-18 11:06 UTC\n")
    assert f"- Session: `{sid}`" in md
    assert "- Backend: local, model: offline-1" in md
    assert "**You** (11:06:40)\n\n> Can you book a table for four on Saturday?" in md
    assert "**Assistant** (11:06:43)\n\n> Done: a table for four on Saturday at noon." in md
    # A typed, multi-line user turn keeps its lines (and its brackets) inside the quote.
    assert "**You** (11:06:50) — typed\n\n> What's the time?\n> And [brackets] too" in md
    # Interrupted: what was heard, and what was not.
    assert "**Assistant** (11:06:51) — interrupted" in md
    assert "Heard:\n\n> It is ten past nine\n" in md
    assert "Not heard:\n\n> in the morning, and the weather is fine." in md
    # Tool calls with arguments and results; the fence outlasts the backticks inside.
    assert "- Tool call `book_table` (ok, 0.25 s)" in md
    assert '  ````json\n  {\n    "booked": true,\n    "table": 3,' in md
    assert '"date": "2026-11-21"' in md
    assert "- Tool call `get_weather` (failed: invalid JSON arguments, 0.00 s)" in md
    assert "  ```json\n  {not json\n  ```" in md
    # Usage summary from the closing line.
    assert md.rstrip().endswith(
        "## Usage\n\n- Responses: 2\n- Input tokens: 420\n- Output tokens: 320\n"
        "- Estimated cost: $0.0321"
    )
    assert "did not close cleanly" not in md


def test_each_persona_change_is_journaled_and_exported_where_it_happened(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, SessionMeta("local", "offline-1", "Assistant", T0))
    turns = sample_turns()
    for turn in turns:
        journal.append_turn(turn)
    journal.on_event(PersonaApplied("Wild Brunch", voice_pending=False))
    journal.on_event(PersonaApplied("Grumpy Professor", voice_pending=True))
    journal.append_turn(Turn(Role.USER, "u9", "And who are you now?", started_at=time.time() + 1))
    journal.close(reason="user quit")

    record = read_session(journal.path)
    assert [name for _, name in record.persona_changes] == ["Wild Brunch", "Grumpy Professor"]
    markdown = export_markdown(record)
    assert "- Persona: Assistant, then Wild Brunch, then Grumpy Professor\n" in markdown
    before = markdown.index("It is ten past nine")  # the last of the sample turns
    first = markdown.index("*Persona changed to Wild Brunch (")
    second = markdown.index("*Persona changed to Grumpy Professor (")
    assert before < first < second < markdown.index("And who are you now?")


def test_export_of_a_crashed_session_sums_the_turns(tmp_path: Path) -> None:
    turns = sample_turns()
    sid = write_session(tmp_path, turns, started_at=T0, close=False)
    md = export_markdown(load_session(sid, tmp_path))
    assert "- The session did not close cleanly" in md
    usages = [t.usage for t in turns if t.usage is not None]
    tokens_in = sum(u.input_text_tokens + u.input_audio_tokens for u in usages)
    assert f"- Responses: 2\n- Input tokens: {tokens_in}\n" in md
    assert f"- Estimated cost: ${sum(u.cost_usd for u in usages):.4f}" in md


def test_load_by_prefix_of_id_or_random_part(tmp_path: Path) -> None:
    first = write_session(tmp_path, sample_turns(), started_at=T0)
    second = write_session(tmp_path, sample_turns()[:1], started_at=T0 + 3600)
    assert load_session(first, tmp_path).session_id == first
    assert load_session(first[:13], tmp_path).session_id == first  # 20261118T1106
    assert load_session(second.rpartition("-")[2][:6], tmp_path).session_id == second
    assert load_session(f"{second}.jsonl", tmp_path).session_id == second
    with pytest.raises(SessionNotFound, match="matches several sessions"):
        load_session("20261118", tmp_path)
    with pytest.raises(SessionNotFound, match="no session matches 'nope'"):
        load_session("nope", tmp_path)


def test_last_session_for_resume_carries_the_whole_conversation(tmp_path: Path) -> None:
    assert last_session(tmp_path) is None
    first = write_session(tmp_path, sample_turns(), started_at=T0)
    write_session(tmp_path, [], started_at=T0 + 10)  # an empty session is skipped
    record = last_session(tmp_path)
    assert record is not None and record.session_id == first

    # --resume: the runtime opens the next journal with the earlier turns carried over.
    meta = SessionMeta("local", "offline-1", "Assistant", T0 + 20, resumed_from=first)
    journal = Journal.open(tmp_path, meta, resumed_turns=record.turns)
    journal.append_turn(Turn(Role.USER, "u9", "Where were we?", started_at=T0 + 21))
    journal.close()
    again = last_session(tmp_path)
    assert again is not None and again.session_id == journal.session_id
    assert [t.item_id for t in again.turns] == [t.item_id for t in sample_turns()] + ["u9"]
    md = export_markdown(again)
    assert f"- Continues session `{first}`" in md
    assert md.index("## Earlier in this conversation") < md.index("## This session")
    assert md.index("## This session") < md.index("Where were we?")
    assert list_sessions(tmp_path)[0].first_user_words == "Where were we?"


def test_cli_lists_sessions(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history"]) == 0
    assert "No conversations yet" in capsys.readouterr().out
    sid = write_session(data_dir / "sessions", sample_turns(), started_at=T0, persona="Wild Brunch")
    assert main(["history"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"{sid}  2026-11-18 11:06  Wild Brunch")
    assert "4 turns  Can you book a table for four on Saturday?" in out[0]


def test_cli_exports_to_stdout_and_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = write_session(data_dir / "sessions", sample_turns(), started_at=T0)
    assert main(["history", sid[-8:]]) == 0
    printed = capsys.readouterr().out
    assert printed == export_markdown(read_session(data_dir / "sessions" / f"{sid}.jsonl"))

    target = tmp_path / "out.md"
    assert main(["history", sid, "--output", str(target)]) == 0
    assert target.read_text() == printed
    assert f"Exported {sid} to {target}" in capsys.readouterr().out


def test_cli_errors_have_exit_codes(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = write_session(data_dir / "sessions", sample_turns(), started_at=T0)
    assert main(["history", "zzz"]) == 2
    err = capsys.readouterr().err
    assert "voice-tui: no session matches 'zzz'" in err and "voice-tui history" in err

    assert main(["history", "--output", str(tmp_path / "x.md")]) == 2
    assert "needs a SESSION" in capsys.readouterr().err

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["history", sid, "--output", str(blocker / "x.md")]) == 1
    assert f"cannot write {blocker / 'x.md'}" in capsys.readouterr().err
    assert blocker.read_text() == ""


def test_cli_uses_journal_dir_from_config(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    custom = tmp_path / "my journal"
    (tmp_path / "config.toml").write_text(f'[journal]\ndir = "{custom}"\n')
    sid = write_session(custom, sample_turns(), started_at=T0)
    assert main(["history"]) == 0
    assert capsys.readouterr().out.startswith(sid)


def test_export_is_redacted_even_from_an_old_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-export-proof-KEY-2718281828459"
    # Written before the key was known to voice-tui: the journal holds it verbatim.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    sid = write_session(tmp_path, [Turn(Role.USER, "u", f"my key is {key}")], started_at=T0)
    assert key in (tmp_path / f"{sid}.jsonl").read_text()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    md = export_markdown(load_session(sid, tmp_path))
    assert key not in md and "> my key is sk-ex…[redacted]" in md


def test_a_malformed_line_is_flagged_in_the_list_the_export_and_for_resume(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = write_session(data_dir / "sessions", sample_turns(), started_at=T0)
    path = data_dir / "sessions" / f"{sid}.jsonl"
    with path.open("a", encoding="utf-8") as journal:
        journal.write('{"type":"turn","turn":42}\n')

    assert main(["history"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{sid}  2026-11-18 11:06  Assistant         4 turns !  ")
    assert captured.err == (
        f"voice-tui: {sid} (!): 1 line of the journal could not be read and was left out "
        "(line 7: skipped ('turn' is not an object))\n"
    )

    assert main(["history", sid]) == 0
    captured = capsys.readouterr()
    assert "- 1 line of the journal could not be read and was left out (line 7" in captured.out
    assert "Can you book a table for four on Saturday?" in captured.out
    assert "line 7: skipped" in captured.err

    record = last_session(data_dir / "sessions")  # what --resume continues
    assert record is not None and record.session_id == sid
    assert [t.item_id for t in record.turns] == [t.item_id for t in sample_turns()]


def test_notes_on_damaged_sessions_are_few_under_a_long_list(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(5):
        sid = write_session(data_dir / "sessions", sample_turns(), started_at=T0 + n)
        with (data_dir / "sessions" / f"{sid}.jsonl").open("a", encoding="utf-8") as journal:
            journal.write("[]\n")
    assert main(["history"]) == 0
    captured = capsys.readouterr()
    assert sum(" turns !  " in line for line in captured.out.splitlines()) == 5
    notes = captured.err.splitlines()
    assert len(notes) == 4 and all("(line 7: skipped (not a JSON object))" in n for n in notes[:3])
    assert notes[3] == "voice-tui: and 2 more (!): `voice-tui history ID` says which lines"
