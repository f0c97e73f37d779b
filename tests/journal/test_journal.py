"""The journal: written turn by turn, read back whole, and never a reason to stop talking."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.turns import T0, sample_turns
from voice_tui import __version__
from voice_tui.config.paths import data_dir
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.events import (
    ConversationEnded,
    Notice,
    ResponseFinished,
    TurnAmended,
    TurnCompleted,
)
from voice_tui.core.usage import TurnUsage, UsageTotals
from voice_tui.journal.history import export_markdown, last_session
from voice_tui.journal.journal import Journal, SessionMeta, default_sessions_dir, read_session
from voice_tui.redact import Redactor

META = SessionMeta(backend="local", model="offline-1", persona="Wild Brunch", started_at=T0)


def test_round_trip_through_engine_events(tmp_path: Path) -> None:
    warnings: list[str] = []
    journal = Journal.open(tmp_path, META, on_warning=warnings.append)
    turns = sample_turns()
    totals = UsageTotals(turns=2, input_tokens=420, output_tokens=320, cost_usd=0.0321)
    for turn in turns:
        journal.on_event(TurnCompleted(turn))
    journal.on_event(Notice("not journaled"))
    journal.on_event(ResponseFinished("resp_2", "completed", None, totals))
    journal.on_event(ConversationEnded("goodbye"))
    journal.close()
    journal.close()  # idempotent

    assert warnings == []
    assert journal.path is not None and journal.path.parent == tmp_path
    assert journal.path.name == f"{journal.session_id}.jsonl"
    assert journal.session_id.startswith("20261118T110640Z-")
    record = read_session(journal.path)
    assert record.problems == []
    assert [t.to_json() for t in record.turns] == [t.to_json() for t in turns]
    assert (record.backend, record.model, record.persona) == ("local", "offline-1", "Wild Brunch")
    assert record.session_id == journal.session_id
    assert record.started_at == T0
    assert record.voice_tui_version == __version__
    assert record.totals == totals
    assert record.end_reason == "goodbye"
    assert record.ended_at is not None


def test_each_turn_is_on_disk_before_on_event_returns(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, META)
    assert journal.path is not None
    for count, turn in enumerate(sample_turns(), start=1):
        journal.on_event(TurnCompleted(turn))
        # Read through a separate descriptor, while the journal is still open.
        assert len(read_session(journal.path).turns) == count
    journal.close()


def test_file_is_private_and_lines_are_typed(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, META)
    journal.append_turn(sample_turns()[0])
    journal.close(totals=UsageTotals())
    assert journal.path is not None
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["session", "turn", "end"]
    assert lines[0]["format"] == 1
    assert lines[2]["totals"] == {
        "turns": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "reasoning_tokens": 0,
        "priced": True,
    }


def test_truncated_last_line_is_tolerated(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, META)
    turns = sample_turns()
    for turn in turns:
        journal.append_turn(turn)
    assert journal.path is not None
    data = journal.path.read_bytes()
    # Cut the last turn line in half, as a crash mid-write would.
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    journal.path.write_bytes(data[: last_line_start + 40])

    record = read_session(journal.path)
    assert [t.item_id for t in record.turns] == [t.item_id for t in turns[:-1]]
    assert len(record.problems) == 1 and "truncated" in record.problems[0]
    assert record.ended_at is None


def test_a_damaged_middle_line_loses_only_itself(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, META)
    for turn in sample_turns():
        journal.append_turn(turn)
    journal.close()
    assert journal.path is not None
    lines = journal.path.read_text().splitlines(keepends=True)
    lines[2] = '{"type": "turn", "turn": {"role": "robot"}}\n'  # the second turn
    journal.path.write_text("".join(lines))
    record = read_session(journal.path)
    assert [t.item_id for t in record.turns] == ["item_u1", "item_u2", "item_a2"]
    assert len(record.problems) == 1 and "line 3: skipped" in record.problems[0]
    assert record.ended_at is not None


def test_resumed_turns_are_carried_into_the_new_file(tmp_path: Path) -> None:
    earlier = sample_turns()
    meta = SessionMeta("local", "offline-1", "Assistant", resumed_from="20261117T094640Z-abcd0123")
    journal = Journal.open(tmp_path, meta, resumed_turns=earlier)
    new = Turn(Role.USER, "item_new", "And one more thing", started_at=T0 + 100)
    journal.append_turn(new)
    journal.close()
    assert journal.path is not None
    record = read_session(journal.path)
    assert record.resumed_from == "20261117T094640Z-abcd0123"
    assert record.resumed_turns == len(earlier)
    assert [t.item_id for t in record.turns] == [t.item_id for t in earlier] + ["item_new"]
    assert [t.item_id for t in record.new_turns] == ["item_new"]
    assert journal.turns_written == 1


def test_unwritable_directory_warns_once_and_the_conversation_goes_on(tmp_path: Path) -> None:
    # The tests run as root, so permissions would not stop a write: a path *through a
    # regular file* fails for everyone (NotADirectoryError).
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    warnings: list[str] = []
    journal = Journal.open(blocker / "sessions", META, on_warning=warnings.append)
    assert not journal.enabled
    for turn in sample_turns():
        journal.on_event(TurnCompleted(turn))  # no exception: nothing to do
    journal.close()
    assert len(warnings) == 1
    assert warnings[0].startswith("Journal disabled: cannot create a session file in")
    assert "Not a directory" in warnings[0] and "conversation goes on" in warnings[0]
    assert journal.turns_written == 0


def test_journal_logs_its_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="voice_tui.journal"):
        Journal.open(blocker, META)
    assert any("Journal disabled" in r.getMessage() for r in caplog.records)


def test_a_logging_callback_does_not_double_the_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.DEBUG):
        Journal.open(blocker, META, on_warning=logging.getLogger("voice_tui.runtime").warning)
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in shown] == ["voice_tui.runtime"]
    [detail] = [r for r in caplog.records if r.name == "voice_tui.journal.journal"]
    assert detail.levelno == logging.DEBUG and detail.exc_info is not None


FULL_DISK_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from tests.support.turns import sample_turns
    from voice_tui.journal.journal import Journal, SessionMeta

    # A file size limit makes write() fail with EFBIG, like a full disk does with ENOSPC.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))
    warnings = []
    journal = Journal.open(Path(sys.argv[1]), SessionMeta("local", "m", "Assistant"),
                           on_warning=warnings.append)
    turns = sample_turns() * 3
    for turn in turns:
        journal.append_turn(turn)
    journal.close()
    print("warnings", len(warnings))
    print("warning", warnings[0] if warnings else "")
    print("written", journal.turns_written)
    print("conversation went on through", len(turns), "turns")
    """
)


def test_full_disk_disables_the_journal_with_one_warning(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(tmp_path / "sessions")],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert out["warnings"] == "1"
    assert out["warning"].startswith("Journal disabled: cannot write to")
    assert "File too large" in out["warning"]
    assert out["conversation"] == "went on through 12 turns"
    written = int(out["written"])
    assert 0 < written < 12
    # What did get written is readable, and holds exactly the turns reported written.
    [path] = (tmp_path / "sessions").glob("*.jsonl")
    record = read_session(path)
    assert len(record.turns) == written
    assert all("truncated" in p for p in record.problems)


def test_default_directory_is_under_the_data_dir(tmp_path: Path) -> None:
    env = {"VOICE_TUI_DATA_DIR": str(tmp_path)}
    assert default_sessions_dir(None, env) == data_dir(env) / "sessions" == tmp_path / "sessions"


def test_journal_redacts_secrets_in_what_it_writes(tmp_path: Path) -> None:
    key = "sk-journal-test-0123456789abcdefXYZ"
    journal = Journal.open(tmp_path, META, redactor=Redactor([key]))
    turn = Turn(Role.USER, "item_k", f"my key is {key}, please remember it")
    journal.append_turn(turn)
    journal.close()
    assert journal.path is not None
    text = journal.path.read_text()
    assert key not in text
    assert read_session(journal.path).turns[0].text.startswith("my key is sk-jo…[redacted]")


def test_each_session_gets_its_own_file(tmp_path: Path) -> None:
    first = Journal.open(tmp_path, META)
    second = Journal.open(tmp_path, META)  # same second: the random part differs
    assert first.path != second.path
    assert first.session_id != second.session_id
    first.close()
    second.close()
    assert len(os.listdir(tmp_path)) == 2


def test_without_a_redactor_the_process_default_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_tui.logsetup import setup_logging

    env_key = "sk-envir-onment-0123456789"
    configured_key = "sk-confi-gfile-9876543210"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    text = f"keys: {env_key} {configured_key}"

    journal = Journal.open(tmp_path / "a", META)  # nothing installed: the env's keys
    journal.append_turn(Turn(Role.USER, "u", text))
    journal.close()

    setup = setup_logging(None, Redactor([configured_key]))  # what the app does first
    try:
        installed = Journal.open(tmp_path / "b", META)
        installed.append_turn(Turn(Role.USER, "u", text))
        installed.close()
    finally:
        setup.close()

    assert journal.path is not None and installed.path is not None
    assert read_session(journal.path).turns[0].text == f"keys: sk-en…[redacted] {configured_key}"
    assert read_session(installed.path).turns[0].text == f"keys: {env_key} sk-co…[redacted]"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"type":"turn","turn":42}', "'turn' is not an object"),
        ('{"type":"turn"}', "'turn' is not an object"),
        ('{"type":"turn","turn":{"role":"user","text":7}}', "turn.text is not text"),
        ('{"type":"turn","turn":{"role":"user","tool_calls":{}}}', "turn.tool_calls is not a list"),
        (
            '{"type":"turn","turn":{"role":"assistant","tool_calls":[{"name":"x","ok":"yes"}]}}',
            "turn.tool_calls[0].ok is not true or false",
        ),
        (
            '{"type":"turn","turn":{"role":"user","usage":{"cost_usd":"1"}}}',
            "turn.usage.cost_usd is not a number",
        ),
        (
            '{"type":"turn","turn":{"role":"user","usage":{"priced":"no"}}}',
            "turn.usage.priced is not true or false",
        ),
        (
            '{"type":"turn","turn":{"role":"user","started_at":"noon"}}',
            "turn.started_at is not a number",
        ),
        ('{"type":"end","totals":[1]}', "'totals' is not an object"),
        ('{"type":"persona","at":1}', "a persona line names no persona"),
        ('{"type":"persona","at":"noon","name":"X"}', "at is not a number"),
        ('{"type":"amend","turn":42}', "'turn' is not an object"),
        (
            '{"type":"amend","turn":{"role":"assistant","item_id":"item_a1","interrupted":1}}',
            "turn.interrupted is not true or false",
        ),
        (
            '{"type":"amend","turn":{"role":"assistant","item_id":"item_gone"}}',
            "it amends turn 'item_gone', which no line before holds",
        ),
        ('{"type":"session","started_at":"yesterday"}', "started_at is not a number"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_a_line_of_valid_json_but_the_wrong_shape_is_skipped_and_flagged(
    tmp_path: Path, line: str, reason: str
) -> None:
    journal = Journal.open(tmp_path, META)
    for turn in sample_turns():
        journal.append_turn(turn)
    journal.close()
    assert journal.path is not None
    lines = journal.path.read_text().splitlines(keepends=True)
    lines.insert(2, line + "\n")
    journal.path.write_text("".join(lines))
    record = read_session(journal.path)
    assert [t.item_id for t in record.turns] == [t.item_id for t in sample_turns()]
    assert record.problems == [f"line 3: skipped ({reason})"]
    assert record.ended_at is not None


def test_every_usage_field_the_journal_writes_reads_back(tmp_path: Path) -> None:
    """The reader checks usage by TurnUsage's own fields: a new field (a flag like
    `priced`, a count) is read back, not refused."""
    usage = TurnUsage(
        input_text_tokens=3, output_audio_tokens=40, cost_usd=0.5, output_reasoning_tokens=7
    )
    unpriced = replace(usage, priced=False)
    journal = Journal.open(tmp_path, META)
    journal.append_turn(Turn(Role.ASSISTANT, "a1", "Hi.", usage=usage))
    journal.append_turn(Turn(Role.ASSISTANT, "a2", "Again.", usage=unpriced))
    journal.close()
    assert journal.path is not None
    record = read_session(journal.path)
    assert record.problems == []
    assert [t.usage for t in record.turns] == [usage, unpriced]


def test_an_answer_cut_after_it_was_journaled_reads_back_as_heard(tmp_path: Path) -> None:
    """The answer was done (and journaled) while its audio still played; a cut then
    amends it: history, exports and --resume see only the part the user heard."""
    journal = Journal.open(tmp_path, META)
    question = Turn(Role.USER, "item_q", "Tell me a long story", typed=True, started_at=T0)
    answer = Turn(
        Role.ASSISTANT,
        "item_story",
        "Once upon a time there was a fox. It lived in a wood far away.",
        started_at=T0 + 1,
        finished_at=T0 + 2,
    )
    journal.on_event(TurnCompleted(question))
    journal.on_event(TurnCompleted(answer))
    assert journal.path is not None
    answer.cut_off("Once upon a time there was a fox.")
    journal.on_event(TurnAmended(answer))
    # On disk before on_event returns, like every turn.
    assert read_session(journal.path).turns[1].interrupted
    later = Turn(Role.USER, "item_next", "Go on", typed=True, started_at=T0 + 5)
    journal.on_event(TurnCompleted(later))
    journal.close()

    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["session", "turn", "turn", "amend", "turn", "end"]
    record = read_session(journal.path)
    assert record.problems == []
    assert [t.item_id for t in record.turns] == ["item_q", "item_story", "item_next"]
    story = record.turns[1]
    assert story.interrupted
    assert story.heard_text == "Once upon a time there was a fox."
    assert story.spoken_text == "Once upon a time there was a fox."
    assert story.text == answer.text  # what was said is kept, marked as not heard
    assert journal.turns_written == 3  # an amendment is not another turn

    markdown = export_markdown(record)
    assert markdown.count("— interrupted") == 1
    heard_at = markdown.index("Heard:")
    assert markdown.index("Not heard:") > heard_at
    assert "> It lived in a wood far away." in markdown

    resumed = last_session(tmp_path)
    assert resumed is not None
    assert [t.spoken_text for t in resumed.turns][1] == "Once upon a time there was a fox."


def test_an_amendment_replaces_only_its_own_turn_of_this_session(tmp_path: Path) -> None:
    """A turn carried over by --resume with the same item id is not touched."""
    earlier = [Turn(Role.ASSISTANT, "item_same", "An old answer", finished_at=T0)]
    journal = Journal.open(tmp_path, META, resumed_turns=earlier)
    answer = Turn(Role.ASSISTANT, "item_same", "A new answer, cut short", finished_at=T0 + 9)
    journal.append_turn(answer)
    answer.cut_off("A new answer")
    journal.amend_turn(answer)
    journal.close()
    assert journal.path is not None
    record = read_session(journal.path)
    assert record.problems == []
    assert [(t.text, t.interrupted) for t in record.turns] == [
        ("An old answer", False),
        ("A new answer, cut short", True),
    ]
