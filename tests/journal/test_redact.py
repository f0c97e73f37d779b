"""Secrets never reach the debug log, the collected warnings, or crash output."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from voice_tui.config.schema import Settings
from voice_tui.logsetup import LoggingSetup, setup_logging
from voice_tui.redact import RedactingFilter, Redactor, mask

KEY = "sk-proj-TESTKEY-7f3a9c2e1b8d4f6a0e5c7b9d"
AZURE_KEY = "azkey0123456789abcdef0123456789ab"
CHAT_KEY = "ollama-chat-secret-42"


def settings_with_keys() -> Settings:
    return Settings.model_validate(
        {
            "openai": {"api_key": KEY},
            "azure": {"api_key": AZURE_KEY, "endpoint": "https://x.openai.azure.com"},
            "local": {"chat_api_key": CHAT_KEY},
        }
    )


def test_redactor_finds_every_secret_in_settings_and_env() -> None:
    env = {
        "OPENAI_API_KEY": "env-openai-key-123456",
        "VOICE_TUI_EXTRA_TOKEN": "some-token-value-xyz",
        "HOME": "/root/not-a-secret",
        "SHORT_API_KEY": "abc",  # too short to be a key: left alone
    }
    redactor = Redactor.from_settings(settings_with_keys(), env)
    text = (
        f"keys {KEY} {AZURE_KEY} {CHAT_KEY} {env['OPENAI_API_KEY']} "
        f"{env['VOICE_TUI_EXTRA_TOKEN']} home=/root/not-a-secret abc"
    )
    out = redactor.redact(text)
    for secret in (KEY, AZURE_KEY, CHAT_KEY, *list(env.values())[:2]):
        assert secret not in out
    assert "home=/root/not-a-secret abc" in out
    assert f"keys {mask(KEY)} " in out
    assert mask(KEY) == "sk-pr…[redacted]"
    assert mask("12345678") == "12…[redacted]"  # never more than a quarter shown


def test_a_key_containing_another_is_masked_whole() -> None:
    inner = "inner-secret-1234"
    outer = f"prefix-{inner}-suffix"
    redactor = Redactor([inner, outer])
    assert redactor.redact(f"[{outer}] [{inner}]") == f"[{mask(outer)}] [{mask(inner)}]"


def test_secrets_added_later_are_redacted() -> None:
    redactor = Redactor()
    assert not redactor.active
    assert redactor.redact(KEY) == KEY
    redactor.add(SecretStr(KEY))
    redactor.add(None)
    assert redactor.redact(f"Bearer {KEY}") == f"Bearer {mask(KEY)}"
    assert redactor.contains_secret(KEY) and not redactor.contains_secret("nothing")


def make_record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"auth failed for {KEY}")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("openai", logging.DEBUG, __file__, 1, msg, args, exc_info)


def test_filter_redacts_message_args_and_traceback() -> None:
    record = make_record("> %s: %s", "Authorization", f"Bearer {KEY}", exc=True)
    assert RedactingFilter(Redactor([KEY])).filter(record)
    formatted = logging.Formatter().format(record)
    assert KEY not in formatted
    assert f"> Authorization: Bearer {mask(KEY)}" in formatted
    assert f"RuntimeError: auth failed for {mask(KEY)}" in formatted


@pytest.fixture
def restore_logging() -> Iterator[list[LoggingSetup]]:
    setups: list[LoggingSetup] = []
    yield setups
    for setup in reversed(setups):
        setup.close()


def test_debug_log_file_redacts_sdk_websocket_and_traceback_output(
    tmp_path: Path, restore_logging: list[LoggingSetup], capfd: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "logs" / "debug.log"
    setup = setup_logging(log_file, Redactor.from_settings(settings_with_keys(), {}))
    restore_logging.append(setup)
    # The shapes the SDK and websockets really log (handshake headers, URLs).
    logging.getLogger("openai.resources.realtime.realtime").debug(
        "> %s: %s", "Authorization", f"Bearer {KEY}"
    )
    logging.getLogger("websockets.client").debug("> api-key: %s", AZURE_KEY)
    logging.getLogger("voice_tui.backends").info("chat url key=%s", CHAT_KEY)
    try:
        raise ConnectionError(f"handshake rejected: {KEY}")
    except ConnectionError:
        logging.getLogger("voice_tui.engine").exception("connection failed")
    logging.getLogger("voice_tui.engine").debug("stack here %s", KEY, stack_info=True)
    for handler in logging.getLogger().handlers:
        handler.flush()

    text = log_file.read_text()
    for secret in (KEY, AZURE_KEY, CHAT_KEY):
        assert secret not in text
    assert (
        "DEBUG   openai.resources.realtime.realtime [MainThread] "
        f"> Authorization: Bearer {mask(KEY)}" in text
    )
    assert f"websockets.client [MainThread] > api-key: {mask(AZURE_KEY)}" in text
    assert f"chat url key={mask(CHAT_KEY)}" in text
    assert "Traceback (most recent call last):" in text
    assert f"ConnectionError: handshake rejected: {mask(KEY)}" in text
    assert "Stack (most recent call last):" in text
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    # The terminal belongs to the TUI: nothing was printed.
    assert capfd.readouterr() == ("", "")
    # The error was also collected for the UI, redacted.
    assert setup.warnings == ["connection failed"]


def test_without_log_file_nothing_reaches_the_terminal(
    restore_logging: list[LoggingSetup], capfd: pytest.CaptureFixture[str]
) -> None:
    # What OPENAI_LOG=debug does at SDK import: a stderr handler on the root logger.
    logging.basicConfig(force=True)
    setup = setup_logging(None, Redactor([KEY]))
    restore_logging.append(setup)
    heard: list[tuple[str, str]] = []
    setup.set_warning_listener(lambda level, text: heard.append((level, text)))
    logging.getLogger("openai").debug("debug with %s", KEY)
    logging.getLogger("voice_tui.audio").warning("device %s vanished", "USB mic")
    logging.getLogger("voice_tui.backends").error("bad key %s", KEY)
    warnings.warn(f"deprecated thing {KEY}", DeprecationWarning, stacklevel=1)
    assert capfd.readouterr() == ("", "")
    assert setup.warnings[:2] == ["device USB mic vanished", f"bad key {mask(KEY)}"]
    assert KEY not in "".join(setup.warnings)
    assert any("deprecated thing" in w for w in setup.warnings)
    assert [text for _, text in heard] == setup.warnings
    assert [level for level, _ in heard][:2] == ["WARNING", "ERROR"]


def test_crash_output_is_redacted(
    tmp_path: Path, restore_logging: list[LoggingSetup], capfd: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "debug.log"
    restore_logging.append(setup_logging(log_file, Redactor([KEY])))
    try:
        raise ValueError(f"could not parse {KEY}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)  # what an uncaught error does

    def die() -> None:
        raise PermissionError(f"thread saw {KEY}")

    thread = threading.Thread(target=die, name="worker-x")
    thread.start()
    thread.join()

    out, err = capfd.readouterr()
    assert out == ""
    assert f"ValueError: could not parse {mask(KEY)}" in err
    assert KEY not in err
    assert "worker-x" not in err  # a thread's death is logged, not printed over the TUI
    text = log_file.read_text()
    assert KEY not in text
    assert "CRITICAL voice_tui.crash" in text and "uncaught exception in thread worker-x" in text
    assert f"PermissionError: thread saw {mask(KEY)}" in text


def test_close_restores_the_previous_logging(restore_logging: list[LoggingSetup]) -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level, sys.excepthook
    setup_logging(None, Redactor()).close()
    assert (list(root.handlers), root.level, sys.excepthook) == before


def test_unopenable_log_file_raises_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    root_handlers = list(logging.getLogger().handlers)
    with pytest.raises(OSError):
        setup_logging(blocker / "debug.log", Redactor())
    assert list(logging.getLogger().handlers) == root_handlers  # nothing half-installed


def test_truncated_and_wrapped_keys_are_masked_by_their_beginning() -> None:
    redactor = Redactor([KEY])
    assert redactor.redact(f"key='{KEY[:30]}...'") == f"key='{mask(KEY)}...'"
    assert redactor.redact(f"{KEY[:12]}") == mask(KEY)
    assert redactor.redact(KEY[:11]) == KEY[:11]  # too little to tell it from any text


LONG_KEY = "sk-proj-" + "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW5xY7z" * 2

CRASHING_APP = f"""
import sys
from rich.console import Console
from textual.app import App
from voice_tui.redact import Redactor
from voice_tui.logsetup import RedactingStream


class Crashing(App[None]):
    def on_mount(self) -> None:
        api_key = {LONG_KEY!r}  # a local: Textual's crash report shows locals
        raise RuntimeError("connection failed")


app = Crashing()
if sys.argv[1] == "redacted":
    stream = RedactingStream(sys.stderr, Redactor([{LONG_KEY!r}]))
    app.error_console = Console(file=stream, markup=False, highlight=False)
app.run(headless=True)
"""


@pytest.mark.parametrize("mode", ["plain", "redacted"])
def test_textual_crash_report_through_a_redacting_stream(mode: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_APP, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(repo)},
        check=False,
    )
    assert "RuntimeError" in result.stderr and "connection failed" in result.stderr
    windows = {LONG_KEY[i : i + 16] for i in range(len(LONG_KEY) - 15)}
    leaked = any(window in result.stderr for window in windows)
    # Textual prints locals in its crash report: the key leaks unless redacted.
    assert leaked is (mode == "plain")
