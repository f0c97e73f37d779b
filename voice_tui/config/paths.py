"""Where voice-tui keeps its files: the platform's dirs, with seams for tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "voice-tui"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$VOICE_TUI_CONFIG`, else `<user config dir>/voice-tui/config.toml`."""
    env = os.environ if env is None else env
    override = env.get("VOICE_TUI_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$VOICE_TUI_DATA_DIR`, else the platform's user data dir (journal, bookings...)."""
    env = os.environ if env is None else env
    override = env.get("VOICE_TUI_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))
