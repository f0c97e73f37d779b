"""Configuration: the typed schema, loading (file + environment + flags) and saving."""

from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import LoadedSettings, load_settings
from voice_tui.config.schema import Settings
from voice_tui.config.writer import save_settings, save_settings_async

__all__ = [
    "ConfigError",
    "LoadedSettings",
    "Settings",
    "load_settings",
    "save_settings",
    "save_settings_async",
]
