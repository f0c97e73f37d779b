"""How `voice-tui` builds its app: what reaches the terminal behind it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from voice_tui.config.loader import load_settings
from voice_tui.logsetup import setup_logging
from voice_tui.redact import Redactor
from voice_tui.ui.launch import build_app

KEY = "sk-proj-launchTEST0123456789abcdefghijklmnop"


def test_the_crash_console_masks_keys(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    loaded = load_settings(None, env={"VOICE_TUI_CONFIG": str(tmp_path / "c.toml")}, overrides={})
    setup = setup_logging(None, Redactor([KEY]))
    try:
        app = build_app(loaded, argparse.Namespace(record=None, resume=False), setup)
        # What Textual does with a crash: print the traceback, locals included, there.
        app.error_console.print(f"api_key = '{KEY}'")
    finally:
        setup.close()
    err = capfd.readouterr().err
    assert "api_key = 'sk-pr" in err
    assert KEY not in err and KEY[:16] not in err
