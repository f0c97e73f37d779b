"""Proof: API keys never appear in anything voice-tui writes or prints.

A real conversation runs through the real SDK over a real WebSocket against the
project's local server (which demands a key), with a DEBUG log of the SDK's and
websockets' own output; a second attempt uses a wrong key and fails; the journal is
exported through the CLI. Then every produced file and all captured output are
searched for the keys.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from voice_tui.backends.select import select_backend
from voice_tui.cli import main
from voice_tui.config.loader import load_settings
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine, EngineError
from voice_tui.core.events import AppEvent, ErrorRaised, TurnCompleted
from voice_tui.core.tools import build_registry
from voice_tui.journal.journal import Journal, SessionMeta, read_session
from voice_tui.logsetup import setup_logging
from voice_tui.offline import build_components
from voice_tui.redact import Redactor, mask
from voice_tui.server.app import start_server

# Distinctive fake keys: one the server accepts (from the environment, which beats the
# file), one only in the config file, a wrong one, and keys of other services.
GOOD_KEY = "sk-good-proof-KEY-4f9c2a7e81d3b6059ae1"
FILE_KEY = "sk-file-proof-KEY-0d2e4f6a8c1b3d5f7e9a"
WRONG_KEY = "sk-wrong-proof-KEY-9e8d7c6b5a4f3e2d1c0b"
AZURE_KEY = "azproofkey-1a2b3c4d5e6f7a8b9c0d1e2f"
CHAT_KEY = "chat-proof-key-55aa66bb77cc88dd"
ALL_KEYS = (GOOD_KEY, FILE_KEY, WRONG_KEY, AZURE_KEY, CHAT_KEY)


async def converse(engine: ConversationEngine, text: str) -> list[AppEvent]:
    events: list[AppEvent] = []
    done = asyncio.Event()

    def listen(event: AppEvent) -> None:
        events.append(event)
        if isinstance(event, TurnCompleted) and event.turn.role.value == "assistant":
            done.set()

    engine.subscribe(listen)
    await engine.start()
    await engine.send_text(text)
    await asyncio.wait_for(done.wait(), timeout=60)
    return events


@pytest.mark.timeout(120)
async def test_no_key_in_logs_journal_exports_errors_or_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"  # everything voice-tui produces goes under here
    server = await start_server(build_components(Settings()), api_key=GOOD_KEY)
    config = tmp_path / "config.toml"  # the user's own file: it holds a key by design
    config.write_text(
        f'[openai]\napi_key = "{FILE_KEY}"\nbase_url = "{server.base_url}"\n'
        f'[local]\nchat_api_key = "{CHAT_KEY}"\n'
        f'[backend]\nmodel = "gpt-realtime"\n'
    )
    env = {
        "VOICE_TUI_DATA_DIR": str(out_dir / "data"),
        "VOICE_TUI_CONFIG": str(config),
        "OPENAI_API_KEY": GOOD_KEY,
        "AZURE_OPENAI_API_KEY": AZURE_KEY,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loaded = load_settings(config, env)
    redactor = Redactor.from_settings(loaded.settings, {**env, "WRONG_API_KEY": WRONG_KEY})
    log_file = out_dir / "debug.log"
    logging_setup = setup_logging(log_file, redactor)
    messages: list[str] = []  # every error text a user could be shown
    try:
        settings = loaded.settings
        backend = select_backend(settings)
        engine = ConversationEngine(settings, backend, build_registry(settings))
        meta = SessionMeta(backend.name, backend.model, settings.active_persona.name)
        journal = Journal.open(None, meta, redactor=redactor, on_warning=messages.append)
        engine.subscribe(journal.on_event)
        try:
            events = await converse(engine, f"My key is {GOOD_KEY}. What time is it?")
        finally:
            await engine.close()
            await backend.aclose()
        journal.close(engine.totals)
        messages += [e.message for e in events if isinstance(e, ErrorRaised)]

        # The same, with a key the server rejects.
        bad = load_settings(config, {**env, "OPENAI_API_KEY": WRONG_KEY}).settings
        bad_backend = select_backend(bad)
        bad_engine = ConversationEngine(bad, bad_backend, build_registry(bad))
        failures: list[AppEvent] = []
        bad_engine.subscribe(failures.append)
        with pytest.raises(EngineError) as failed:
            await bad_engine.start()
        await bad_engine.close()
        await bad_backend.aclose()
        messages.append(str(failed.value))
        messages += [e.message for e in failures if isinstance(e, ErrorRaised)]
        logging.getLogger("voice_tui.test").error("start failed", exc_info=failed.value)

        # Export and list through the command line.
        export = out_dir / "export.md"
        assert main(["history", journal.session_id, "--output", str(export)]) == 0
        assert main(["history"]) == 0
        assert main(["history", journal.session_id]) == 0
        # Config mistakes around a key: the error names the place, never the value.
        for broken in (
            f'[backend]\napi_key = "{FILE_KEY}"\n',
            f'[local]\nchat_api_key = ["{FILE_KEY}"]\n',
        ):
            bad_config = tmp_path / "broken.toml"
            bad_config.write_text(broken)
            assert main(["history", "--config", str(bad_config)]) == 2
    finally:
        logging_setup.close()
        await server.close()
    out, err = capfd.readouterr()

    # The flow really happened, and the log really saw the keys go by (masked).
    assert journal.path is not None
    record = read_session(journal.path)
    assert [t.role.value for t in record.turns][:2] == ["user", "assistant"], record.turns
    assert record.turns[0].text == f"My key is {mask(GOOD_KEY)}. What time is it?"
    log_text = log_file.read_text()
    assert f"Authorization: Bearer {mask(GOOD_KEY)}" in log_text  # the SDK's handshake
    assert f"Authorization: Bearer {mask(WRONG_KEY)}" in log_text
    assert "rejected the API key" in " ".join(messages)
    assert "broken.toml:2:1: unknown key 'api_key' in [backend]" in err
    assert export.read_text().count(mask(GOOD_KEY)) == 1

    produced = [p for p in out_dir.rglob("*") if p.is_file()]
    assert {p.name for p in produced} >= {"debug.log", "export.md", journal.path.name}
    texts = {str(p): p.read_bytes().decode("utf-8", "replace") for p in produced}
    texts["stdout"], texts["stderr"] = out, err
    texts["messages"] = "\n".join(messages)
    texts["collected warnings"] = "\n".join(logging_setup.warnings)
    leaks = [(where, key) for where, text in texts.items() for key in ALL_KEYS if key in text]
    assert leaks == []
