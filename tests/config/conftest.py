"""Keep config tests away from the user's real config, keys and data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voice_tui.config.loader import ENV_KEYS


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_TUI_CONFIG", str(tmp_path / "isolated" / "config.toml"))
    monkeypatch.setenv("VOICE_TUI_DATA_DIR", str(tmp_path / "isolated" / "data"))
    for variable in ENV_KEYS:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config file with the given text; returns its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        return path

    return write
