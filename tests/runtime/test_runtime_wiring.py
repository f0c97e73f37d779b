"""The runtime wires the journal and the recorder as designed: every turn journaled,
assistant audio recorded, and `--resume` carrying the conversation into the next session."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from tests.support.engine import ScriptedPlayback
from tests.support.turns import sample_turns
from voice_tui.config.loader import load_settings
from voice_tui.core.conversation import Role
from voice_tui.core.events import AppEvent, AudioChunk, TurnCompleted
from voice_tui.journal.history import last_session
from voice_tui.journal.journal import Journal, SessionMeta, read_session
from voice_tui.logsetup import setup_logging
from voice_tui.redact import Redactor
from voice_tui.runtime import Runtime, build_runtime


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "VOICE_TUI_DATA_DIR": str(tmp_path / "data"),
        "VOICE_TUI_CONFIG": str(tmp_path / "config.toml"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return values


async def exchange(rt: Runtime, text: str) -> list[bytes]:
    """Start the runtime's engine, say `text`, wait for the spoken answer, close."""
    audio: list[bytes] = []
    answered = asyncio.Event()

    def listen(event: AppEvent) -> None:
        if isinstance(event, AudioChunk):
            audio.append(event.pcm)
        if (
            isinstance(event, TurnCompleted)
            and event.turn.role is Role.ASSISTANT
            and event.turn.text
        ):
            answered.set()

    rt.engine.subscribe(listen)
    try:
        await rt.engine.start()
        await rt.engine.send_text(text)
        await asyncio.wait_for(answered.wait(), timeout=60)
    finally:
        await rt.aclose()
    return audio


async def test_runtime_journals_records_and_resumes(env: dict[str, str], tmp_path: Path) -> None:
    loaded = load_settings(None, env, {"backend.kind": "local"})
    sessions = Path(env["VOICE_TUI_DATA_DIR"]) / "sessions"

    rt = await build_runtime(loaded, audio=False, record_dir=tmp_path / "rec")
    assert rt.journal is not None and rt.recorder is not None
    first_id = rt.journal.session_id
    audio = await exchange(rt, "Hello, who are you?")

    record = read_session(sessions / f"{first_id}.jsonl")
    assert record.turns[0].text == "Hello, who are you?"
    assert any(t.role is Role.ASSISTANT and t.text for t in record.turns)
    assert record.ended_at is not None and record.totals is not None
    assert record.totals.turns >= 1 and record.backend == "local"
    with wave.open(str(rt.recorder.assistant_path), "rb") as wav:
        assert wav.readframes(wav.getnframes()) == b"".join(audio) != b""
    assert rt.recorder.assistant_path.name == f"{first_id}-assistant.wav"

    resumed = await build_runtime(loaded, audio=False, resume=True)
    assert resumed.journal is not None
    assert resumed.journal.meta.resumed_from == first_id
    assert [t.item_id for t in resumed.engine.conversation] == [t.item_id for t in record.turns]
    await exchange(resumed, "And what can you do?")

    latest = last_session(sessions)
    assert latest is not None and latest.session_id == resumed.journal.session_id
    assert latest.resumed_turns == len(record.turns)
    assert [t.text for t in latest.turns if t.role is Role.USER] == [
        "Hello, who are you?",
        "And what can you do?",
    ]


async def test_journal_disabled_by_config(env: dict[str, str], tmp_path: Path) -> None:
    loaded = load_settings(None, env, {"backend.kind": "local", "journal.enabled": False})
    rt = await build_runtime(loaded, audio=False)
    assert rt.journal is None
    await rt.aclose()
    assert not (Path(env["VOICE_TUI_DATA_DIR"]) / "sessions").exists()


async def test_the_app_path_journals_without_keys(env: dict[str, str], tmp_path: Path) -> None:
    """As `voice-tui` runs: logging set up with the settings' redactor, then the runtime."""
    key = "sk-runtime-proof-KEY-31415926535897"
    (tmp_path / "config.toml").write_text(f'[openai]\napi_key = "{key}"\n')
    loaded = load_settings(None, env, {"backend.kind": "local"})
    setup = setup_logging(tmp_path / "debug.log", Redactor.from_settings(loaded.settings, env))
    try:
        rt = await build_runtime(loaded, audio=False)
        assert rt.journal is not None and rt.journal.path is not None
        await exchange(rt, f"Remember my key {key} please")
    finally:
        setup.close()
    journal_text = rt.journal.path.read_text()
    assert "Remember my key sk-ru…[redacted] please" in journal_text
    assert key not in journal_text
    assert key not in (tmp_path / "debug.log").read_text()


async def test_resume_skips_a_malformed_line_and_says_so(env: dict[str, str]) -> None:
    sessions = Path(env["VOICE_TUI_DATA_DIR"]) / "sessions"
    journal = Journal.open(sessions, SessionMeta("local", "offline", "Assistant"))
    for turn in sample_turns():
        journal.append_turn(turn)
    journal.close()
    assert journal.path is not None
    with journal.path.open("a", encoding="utf-8") as f:
        f.write('{"type":"turn","turn":42}\n')

    loaded = load_settings(None, env, {"backend.kind": "local"})
    rt = await build_runtime(loaded, audio=False, resume=True)
    try:
        assert [t.item_id for t in rt.engine.conversation] == [t.item_id for t in sample_turns()]
        assert any(
            n.startswith(f"Resuming {journal.session_id}: 1 line of the journal could not be read")
            and "'turn' is not an object" in n
            for n in rt.notices
        )
    finally:
        await rt.aclose()


@pytest.mark.parametrize("cut_by", ["the interrupt key", "quitting"])
async def test_an_answer_cut_while_it_still_played_is_journaled_as_heard(
    env: dict[str, str], cut_by: str
) -> None:
    """The reply is done (journaled) but still playing when the user presses `x`, or
    quits: the journal, and the next `--resume`, keep only the part the user heard."""
    loaded = load_settings(None, env, {"backend.kind": "local"})
    sessions = Path(env["VOICE_TUI_DATA_DIR"]) / "sessions"
    rt = await build_runtime(loaded, audio=False)
    assert rt.journal is not None and rt.journal.path is not None
    playback = ScriptedPlayback()  # still playing whatever came, until told to stop
    rt.engine.playback = playback
    answered = asyncio.Event()

    def listen(event: AppEvent) -> None:
        if isinstance(event, TurnCompleted) and event.turn.role is Role.ASSISTANT:
            answered.set()

    rt.engine.subscribe(listen)
    try:
        await rt.engine.start()
        await rt.engine.send_text("Please tell me a long story about a fox in the woods.")
        await asyncio.wait_for(answered.wait(), timeout=60)
        item_id = playback.chunks[-1].item_id
        playback.heard_ms = playback.received_ms(item_id) // 2
        assert read_session(rt.journal.path).turns[-1].interrupted is False
        if cut_by == "the interrupt key":
            await rt.engine.interrupt()
    finally:  # quitting: the runtime closes while the answer plays
        await rt.aclose()

    record = read_session(rt.journal.path)
    assert record.problems == []
    answer = record.turns[-1]
    assert answer.item_id == item_id and answer.interrupted
    assert answer.heard_text and answer.text.startswith(answer.heard_text)
    assert len(answer.heard_text) < len(answer.text)

    resumed = await build_runtime(loaded, audio=False, resume=True)
    try:
        restored = resumed.engine.conversation[-1]
        assert restored.interrupted and restored.spoken_text == answer.heard_text
    finally:
        await resumed.aclose()
    latest = last_session(sessions)
    assert latest is not None and latest.turns[-1].spoken_text == answer.heard_text
